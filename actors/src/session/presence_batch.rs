//! A session's presence subscriptions and batching. `presence_sub` replaces the
//! set of users whose changes the session receives. Changes that arrive within
//! `HubSettings::presence_batch` of the first one leave together, as one
//! `presence_change` event per presence value (`active`, `away`) with a `users`
//! list.

use std::collections::HashSet;

use ractor::ActorRef;

use super::{SessionMsg, SessionState};
use crate::events;
use crate::ids::UserId;
use crate::presence;

impl SessionState {
    /// Replaces the session's presence subscriptions with `users`.
    pub(super) fn subscribe_presence(&mut self, myself: &ActorRef<SessionMsg>, users: Vec<UserId>) {
        let wanted: HashSet<UserId> = users.into_iter().collect();
        let current = &self.presence_subscriptions;
        let dropped: Vec<UserId> = current.difference(&wanted).cloned().collect();
        let added: Vec<UserId> = wanted.difference(current).cloned().collect();

        let subscriptions = &self.hub.registry().presence_state;
        let team_id = &self.handle.team_id;
        subscriptions.unsubscribe(team_id, self.handle.id, &dropped);
        subscriptions.subscribe(team_id, self.handle.id, myself, &added);

        // A change gathered before the new list must not reach the client.
        self.pending_presence
            .retain(|user, _| wanted.contains(user));
        self.presence_subscriptions = wanted;
    }

    /// Sends the current presence of `users` at once, without batching.
    pub(super) fn query_presence(&self, users: &[UserId]) {
        let mut active = Vec::new();
        let mut away = Vec::new();
        for user in users {
            let presence = presence::user_presence(&self.hub, &self.handle.team_id, user);
            if presence.active {
                active.push(user.clone());
            } else {
                away.push(user.clone());
            }
        }
        self.deliver_presence(active, away);
    }

    /// Gathers one change and schedules the flush of the window it opens.
    pub(super) fn queue_presence(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        user: UserId,
        active: bool,
    ) {
        // A change sent before an unsubscribe can arrive after it.
        if !self.presence_subscriptions.contains(&user) {
            return;
        }
        self.pending_presence.insert(user, active);
        let window = self.hub.settings().presence_batch;
        if window.is_zero() {
            self.flush_presence();
            return;
        }
        if !self.flush_pending {
            self.flush_pending = true;
            myself.send_after(window, || SessionMsg::FlushPresence);
        }
    }

    /// Sends the gathered changes: one event for the users now active, one for
    /// those now away.
    pub(super) fn flush_presence(&mut self) {
        self.flush_pending = false;
        let mut active = Vec::new();
        let mut away = Vec::new();
        for (user, is_active) in self.pending_presence.drain() {
            if is_active {
                active.push(user);
            } else {
                away.push(user);
            }
        }
        self.deliver_presence(active, away);
    }

    fn deliver_presence(&self, mut active: Vec<UserId>, mut away: Vec<UserId>) {
        active.sort();
        away.sort();
        if !active.is_empty() {
            self.handle.deliver(&events::presence_change(&active, true));
        }
        if !away.is_empty() {
            self.handle.deliver(&events::presence_change(&away, false));
        }
    }

    /// Removes every presence subscription of the session; it is closing.
    pub(super) fn unsubscribe_all(&mut self) {
        let users: Vec<UserId> = self.presence_subscriptions.drain().collect();
        self.hub.registry().presence_state.unsubscribe(
            &self.handle.team_id,
            self.handle.id,
            &users,
        );
    }
}
