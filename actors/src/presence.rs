//! The presence actor: one per user who has connected since the team loaded. It
//! keeps one device entry per open session. A device is active until it sends
//! no client frame for `HubSettings::presence_idle`, and a closed session removes
//! its device at once. The user is `active` while any device is active and no
//! manual away is set, `away` otherwise.
//!
//! Each change of that presence goes only to the sessions subscribed to the user
//! (the RTM `presence_sub` frame). The actor pushes it into each subscriber's
//! presence inbox, with no message to the session actor, and the node's
//! presence batcher sends each session its batch when the window ends (see
//! `actors/src/presence_batcher.rs`).
//!
//! The facts that must survive a restart of this actor (manual away, snooze,
//! the presence last announced) live in the registry's
//! [`PresenceRegistry`](crate::presence_registry::PresenceRegistry). A restarted
//! actor rebuilds its devices from the sessions still open, compares the result
//! with the announced presence and announces the difference, so subscribers end
//! up with the presence the node holds.
//!
//! The free functions at the end are the queries other parts use: the Web API
//! (`users.getPresence`, `dnd.*`) and the push-notification job
//! ([`is_snoozed`], [`has_open_session`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::hub::Hub;
use crate::ids::{SessionId, TeamId, UserId};
use crate::presence_registry::unix_now;

/// Messages of a presence actor: its whole interface.
pub enum PresenceMsg {
    /// A session of the user opened; it becomes an active device.
    SessionOpened(SessionId),
    /// A session of the user closed; its device is removed.
    SessionClosed(SessionId),
    /// A session of the user sent a client frame.
    Activity(SessionId),
    /// The manual away flag in the presence record changed.
    ManualChanged,
    /// Mark devices idle whose last frame is older than the idle time.
    IdleCheck,
    /// Return the devices' state.
    Get(RpcReplyPort<PresenceInfo>),
    /// Panic inside the handler, for supervision tests.
    #[cfg(feature = "fault-injection")]
    Panic,
}

/// A user's presence and device counts, as the presence actor stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresenceInfo {
    /// Whether the user is `active`.
    pub active: bool,
    /// Number of devices (open sessions).
    pub connection_count: usize,
    /// Number of devices that are not idle.
    pub active_devices: usize,
}

/// Arguments of a presence actor.
pub struct PresenceArgs {
    /// Shared node state.
    pub hub: Hub,
    /// Team of the user.
    pub team_id: TeamId,
    /// The user.
    pub user_id: UserId,
}

/// One open session of the user.
struct Device {
    /// When the session last sent a client frame (or opened).
    last_activity: Instant,
    /// Whether the idle time has passed since `last_activity`.
    idle: bool,
}

/// State of a presence actor.
pub struct PresenceState {
    /// Shared node state.
    hub: Hub,
    /// Team of the user.
    team_id: TeamId,
    /// The user.
    user_id: UserId,
    /// The user's id, shared by the changes queued on the subscribers'
    /// inboxes.
    shared_user_id: Arc<UserId>,
    /// Open sessions of the user.
    devices: HashMap<SessionId, Device>,
    /// Whether an `IdleCheck` is scheduled.
    idle_check_pending: bool,
}

/// The presence actor (see the module docs).
pub struct PresenceActor;

impl Actor for PresenceActor {
    type Msg = PresenceMsg;
    type State = PresenceState;
    type Arguments = PresenceArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: PresenceArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        // After a restart the open sessions are still in the registry.
        // NOTE: their activity times are lost, so a device that was idle
        // counts as active again until the idle time passes once more.
        let now = Instant::now();
        let devices = args
            .hub
            .registry()
            .user_sessions(&args.user_id)
            .iter()
            .map(|handle| {
                let device = Device {
                    last_activity: now,
                    idle: false,
                };
                (handle.id, device)
            })
            .collect();
        let mut state = PresenceState {
            hub: args.hub,
            team_id: args.team_id,
            shared_user_id: Arc::new(args.user_id.clone()),
            user_id: args.user_id,
            devices,
            idle_check_pending: false,
        };
        state.schedule_idle_check(&myself);
        state.announce_if_changed();
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: PresenceMsg,
        state: &mut PresenceState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PresenceMsg::SessionOpened(id) => {
                state.record_activity(id);
                state.schedule_idle_check(&myself);
            }
            PresenceMsg::SessionClosed(id) => {
                state.devices.remove(&id);
            }
            PresenceMsg::Activity(id) => {
                // A frame can arrive after the close was processed; ignore it.
                if state.devices.contains_key(&id) {
                    state.record_activity(id);
                    state.schedule_idle_check(&myself);
                }
            }
            PresenceMsg::ManualChanged => {}
            PresenceMsg::IdleCheck => {
                state.idle_check_pending = false;
                state.mark_idle_devices();
                state.schedule_idle_check(&myself);
            }
            PresenceMsg::Get(reply) => {
                let _ = reply.send(state.info());
            }
            #[cfg(feature = "fault-injection")]
            PresenceMsg::Panic => panic!("fault injection: presence of {} panicked", state.user_id),
        }
        state.announce_if_changed();
        Ok(())
    }
}

impl PresenceState {
    /// Marks a device active now, adding it when it is new.
    fn record_activity(&mut self, id: SessionId) {
        self.devices.insert(
            id,
            Device {
                last_activity: Instant::now(),
                idle: false,
            },
        );
        let now = unix_now();
        self.hub
            .registry()
            .presence_state
            .update(&self.team_id, &self.user_id, |record| {
                record.last_activity = now;
            });
    }

    /// Marks every device idle whose last frame is at least the idle time old.
    fn mark_idle_devices(&mut self) {
        let idle_after = self.hub.settings().presence_idle;
        let now = Instant::now();
        for device in self.devices.values_mut() {
            if now.duration_since(device.last_activity) >= idle_after {
                device.idle = true;
            }
        }
    }

    /// Schedules an `IdleCheck` for when the next active device turns idle,
    /// unless one is already scheduled or no device is active.
    fn schedule_idle_check(&mut self, myself: &ActorRef<PresenceMsg>) {
        if self.idle_check_pending {
            return;
        }
        let idle_after = self.hub.settings().presence_idle;
        let next_idle = self
            .devices
            .values()
            .filter(|device| !device.idle)
            .map(|device| device.last_activity + idle_after)
            .min();
        let Some(next_idle) = next_idle else {
            return;
        };
        // Wake a millisecond late so the device is past its idle time.
        let delay = next_idle.saturating_duration_since(Instant::now()) + Duration::from_millis(1);
        self.idle_check_pending = true;
        myself.send_after(delay, || PresenceMsg::IdleCheck);
    }

    fn info(&self) -> PresenceInfo {
        let active_devices = self.devices.values().filter(|d| !d.idle).count();
        let manual_away = self
            .hub
            .registry()
            .presence_state
            .record(&self.team_id, &self.user_id)
            .is_some_and(|record| record.manual_away);
        PresenceInfo {
            active: active_devices > 0 && !manual_away,
            connection_count: self.devices.len(),
            active_devices,
        }
    }

    /// Computes the user's presence and, when it differs from the one last
    /// announced, stores it and pushes it into every subscribed session's
    /// presence inbox.
    fn announce_if_changed(&mut self) {
        let any_device_active = self.devices.values().any(|device| !device.idle);
        let presence = &self.hub.registry().presence_state;
        let changed = presence.update(&self.team_id, &self.user_id, |record| {
            let active = any_device_active && !record.manual_away;
            let changed = record.active != active;
            record.active = active;
            changed.then_some(active)
        });
        let Some(active) = changed else {
            return;
        };
        let batcher = self.hub.presence_batcher();
        let notified = presence.for_each_subscriber(&self.team_id, &self.user_id, |inbox| {
            batcher.push(inbox, &self.shared_user_id, active);
        });
        tracing::debug!(user = %self.user_id, active, subscribers = notified, "presence changed");
    }
}

/// A user's presence in the shape of Slack's `users.getPresence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserPresence {
    /// `active` (true) or `away` (false).
    pub active: bool,
    /// Whether the user has at least one open session.
    pub online: bool,
    /// Whether the node set the user away: idle devices or no session, and no
    /// manual away.
    pub auto_away: bool,
    /// Whether the user set themselves away with `users.setPresence`.
    pub manual_away: bool,
    /// Number of open sessions.
    pub connection_count: usize,
    /// Time of the latest client frame, in Unix seconds; 0 when none was seen
    /// since the node started.
    pub last_activity: u64,
}

/// Returns a user's presence. A user unknown to the presence registry, or of
/// another team than `team_id`, is away with no connection.
pub fn user_presence(hub: &Hub, team_id: &TeamId, user_id: &UserId) -> UserPresence {
    let registry = hub.registry();
    let Some(record) = registry.presence_state.record(team_id, user_id) else {
        return UserPresence {
            active: false,
            online: false,
            auto_away: true,
            manual_away: false,
            connection_count: 0,
            last_activity: 0,
        };
    };
    let connection_count = registry.session_count(user_id);
    UserPresence {
        active: record.active,
        online: connection_count > 0,
        auto_away: !record.active && !record.manual_away,
        manual_away: record.manual_away,
        connection_count,
        last_activity: record.last_activity,
    }
}

/// Sets or clears a user's manual away (`users.setPresence`). The presence
/// actor, when the user has one, announces the resulting change.
pub fn set_manual_away(hub: &Hub, team_id: &TeamId, user_id: &UserId, away: bool) {
    let registry = hub.registry();
    registry
        .presence_state
        .update(team_id, user_id, |record| record.manual_away = away);
    if let Some(actor) = registry.presence.get(user_id) {
        if let Err(error) = actor.send_message(PresenceMsg::ManualChanged) {
            tracing::error!(user = %user_id, %error, "presence actor did not take a manual presence change");
        }
    }
}

/// Starts a do-not-disturb snooze that ends at `until` (Unix seconds), or ends
/// the running snooze when `until` is `None`.
pub fn set_snooze(hub: &Hub, team_id: &TeamId, user_id: &UserId, until: Option<u64>) {
    hub.registry()
        .presence_state
        .update(team_id, user_id, |record| record.snooze_until = until);
}

/// Returns the end of a user's running snooze in Unix seconds, or `None` when
/// the user is not snoozed.
pub fn snooze_end(hub: &Hub, team_id: &TeamId, user_id: &UserId) -> Option<u64> {
    let record = hub.registry().presence_state.record(team_id, user_id)?;
    let now = unix_now();
    record.snooze_until.filter(|_| record.is_snoozed(now))
}

/// Returns whether a user is snoozed (do not disturb): the push-notification
/// job must send the user nothing while this is true. Snoozes live in the
/// node's registry, so they survive a presence actor restart but not a node
/// restart.
pub async fn is_snoozed(hub: &Hub, team_id: &TeamId, user_id: &UserId) -> bool {
    snooze_end(hub, team_id, user_id).is_some()
}

/// Returns whether a user of `team_id` has at least one open real-time session
/// on this node, whether active or idle.
pub async fn has_open_session(hub: &Hub, team_id: &TeamId, user_id: &UserId) -> bool {
    let registry = hub.registry();
    registry
        .user_sessions(user_id)
        .iter()
        .any(|handle| &handle.team_id == team_id)
}

/// Tells a user's presence actor that one of their sessions sent a frame.
pub fn record_activity(hub: &Hub, user_id: &UserId, session_id: SessionId) {
    if let Some(actor) = hub.registry().presence.get(user_id) {
        let _ = actor.send_message(PresenceMsg::Activity(session_id));
    }
}
