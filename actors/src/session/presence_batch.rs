//! A session's presence subscriptions. `presence_sub` replaces the set of users
//! whose changes the session receives; `presence_query` sends their current
//! presence at once. Changes themselves go from the presence actors into the
//! session's presence inbox, and the node's presence batcher sends them (see
//! `actors/src/presence_batcher.rs`).

use std::collections::HashSet;

use super::SessionState;
use crate::ids::UserId;
use crate::presence;
use crate::presence_batcher::deliver_presence;

impl SessionState {
    /// Replaces the session's presence subscriptions with `users`.
    pub(super) fn subscribe_presence(&mut self, users: Vec<UserId>) {
        let wanted: HashSet<UserId> = users.into_iter().collect();
        let current = &self.presence_subscriptions;
        let dropped: Vec<UserId> = current.difference(&wanted).cloned().collect();
        let added: Vec<UserId> = wanted.difference(current).cloned().collect();

        let subscriptions = &self.hub.registry().presence_state;
        let team_id = &self.handle.team_id;
        subscriptions.unsubscribe(team_id, self.handle.id, &dropped);
        subscriptions.subscribe(team_id, self.handle.id, &self.presence_inbox, &added);

        // A change gathered before the new list must not reach the client. No
        // change of a dropped user is pushed after `unsubscribe` returns.
        self.presence_inbox.retain(|user| wanted.contains(user));
        self.presence_subscriptions = wanted;
    }

    /// Sends the current presence of `users` at once, without batching.
    pub(super) fn query_presence(&self, users: &[UserId]) {
        let mut active = Vec::new();
        let mut away = Vec::new();
        for user in users {
            let presence = presence::user_presence(&self.hub, &self.handle.team_id, user);
            if presence.active {
                active.push(user);
            } else {
                away.push(user);
            }
        }
        active.sort();
        away.sort();
        deliver_presence(&self.handle, &active, &away);
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
