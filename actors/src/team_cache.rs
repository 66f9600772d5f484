//! The team cache (Flannel): a team's users, conversations and memberships held
//! in memory, so that boots and lookups read memory instead of the store.
//!
//! The team actor loads the cache once, in its `pre_start`, and publishes it in
//! the registry as a [`SharedTeamCache`]. The API reads it under a read lock,
//! without a round trip through any mailbox. Every write path that changes a
//! user, a conversation or a membership calls one of the update functions below
//! after its commit, so a read that follows an acknowledged write sees it.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::domain::{Channel, ChannelKind, Team, TokenKind, User};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::ids::{ChannelId, TeamId, UserId};
use crate::ports::{Page, Store, StoreError};

/// A team cache shared between the team actor, the actors that write and the API.
pub type SharedTeamCache = Arc<RwLock<TeamCache>>;

/// Rows per store read while loading.
const LOAD_PAGE: usize = 1000;

/// The in-memory copy of one team's directory.
#[derive(Debug)]
pub struct TeamCache {
    /// The team.
    team: Team,
    /// Users (people and bot users, deactivated ones too) by id.
    users: HashMap<UserId, User>,
    /// Conversations of every kind by id.
    channels: HashMap<ChannelId, Channel>,
    /// Member ids of each conversation, sorted for paging.
    members: HashMap<ChannelId, BTreeSet<UserId>>,
    /// Conversations of each user, sorted by id.
    member_of: HashMap<UserId, BTreeSet<ChannelId>>,
    /// (lower-case user name, id), sorted for prefix search.
    user_names: BTreeSet<(String, UserId)>,
    /// (lower-case channel name, id) of public and private channels, sorted for
    /// prefix search. Direct messages are left out because their names are keys.
    channel_names: BTreeSet<(String, ChannelId)>,
    /// Token hashes this node authenticated from the store, with the user and
    /// kind of each. Only unrevoked tokens are added, and replacing a user's
    /// record drops that user's tokens, so a deactivation (which revokes them)
    /// sends the next request back to the store.
    tokens: HashMap<String, (UserId, TokenKind)>,
    /// The hashes in `tokens` of each user.
    user_tokens: HashMap<UserId, Vec<String>>,
    /// Use mark, set on every read through [`Hub::team_cache`]. The team
    /// actor's idle check clears it and evicts the team when it was clear.
    used: AtomicBool,
    /// Id of the newest audit entry whose changes the cache holds. A reader
    /// that finds a newer entry in the store (an admin action that the team
    /// actor has not applied yet, such as one from the command line) reads
    /// the store instead of the cache.
    applied_audit_id: AtomicU64,
}

impl TeamCache {
    /// Creates an empty cache of a team.
    pub fn new(team: Team) -> TeamCache {
        TeamCache {
            team,
            users: HashMap::new(),
            channels: HashMap::new(),
            members: HashMap::new(),
            member_of: HashMap::new(),
            user_names: BTreeSet::new(),
            channel_names: BTreeSet::new(),
            tokens: HashMap::new(),
            user_tokens: HashMap::new(),
            used: AtomicBool::new(true),
            applied_audit_id: AtomicU64::new(0),
        }
    }

    /// Returns the id of the newest audit entry whose changes the cache contains.
    pub fn applied_audit_id(&self) -> u64 {
        self.applied_audit_id.load(Ordering::Acquire)
    }

    /// Records that the cache contains the changes of audit entries up to `id`.
    pub fn set_applied_audit_id(&self, id: u64) {
        self.applied_audit_id.fetch_max(id, Ordering::AcqRel);
    }

    /// Loads a team's users, conversations and memberships from the store, page
    /// by page. Returns `None` when the team does not exist.
    pub async fn load(
        store: &dyn Store,
        team_id: &TeamId,
    ) -> Result<Option<TeamCache>, StoreError> {
        let Some(team) = store.team(team_id).await? else {
            return Ok(None);
        };
        let mut cache = TeamCache::new(team);

        let mut after = None;
        loop {
            let page = store
                .users(
                    team_id,
                    Page {
                        after,
                        limit: LOAD_PAGE,
                    },
                )
                .await?;
            let full = page.len() == LOAD_PAGE;
            after = page.last().map(|user| user.id.clone());
            for user in page {
                cache.upsert_user(user);
            }
            if !full {
                break;
            }
        }

        let mut after = None;
        loop {
            let page = store
                .team_channels(
                    team_id,
                    Page {
                        after,
                        limit: LOAD_PAGE,
                    },
                )
                .await?;
            let full = page.len() == LOAD_PAGE;
            after = page.last().map(|channel| channel.id.clone());
            for channel in page {
                cache.upsert_channel(channel);
            }
            if !full {
                break;
            }
        }

        let mut after = None;
        loop {
            let page = store
                .team_members(
                    team_id,
                    Page {
                        after,
                        limit: LOAD_PAGE * 10,
                    },
                )
                .await?;
            let full = page.len() == LOAD_PAGE * 10;
            after = page.last().cloned();
            for (channel_id, user_id) in page {
                cache.add_member(&channel_id, &user_id);
            }
            if !full {
                break;
            }
        }
        Ok(Some(cache))
    }

    /// Marks the cache as used since the last idle check.
    pub fn mark_used(&self) {
        self.used.store(true, Ordering::Relaxed);
    }

    /// Clears the used mark and returns whether it was set.
    pub fn take_used(&self) -> bool {
        self.used.swap(false, Ordering::Relaxed)
    }

    /// Returns the team.
    pub fn team(&self) -> &Team {
        &self.team
    }

    /// Returns how many users the team has, deactivated ones included.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Returns how many conversations the team has, of every kind.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Inserts a user or replaces it (a rename, a profile change, a role change,
    /// a deactivation: `deleted` set). Deactivated users stay in the cache,
    /// because Slack still returns them with `deleted: true`. The user's
    /// cached tokens are dropped, so the next request with one of them is
    /// checked against the store again.
    pub fn upsert_user(&mut self, user: User) {
        self.forget_tokens(&user.id);
        if let Some(previous) = self.users.get(&user.id) {
            self.user_names
                .remove(&(previous.name.to_lowercase(), previous.id.clone()));
        }
        self.user_names
            .insert((user.name.to_lowercase(), user.id.clone()));
        self.users.insert(user.id.clone(), user);
    }

    /// Inserts a conversation or replaces it (rename, archive, topic, purpose).
    pub fn upsert_channel(&mut self, channel: Channel) {
        if let Some(previous) = self.channels.get(&channel.id) {
            self.channel_names
                .remove(&(previous.name.to_lowercase(), previous.id.clone()));
        }
        if !matches!(channel.kind, ChannelKind::Im | ChannelKind::Mpim) {
            self.channel_names
                .insert((channel.name.to_lowercase(), channel.id.clone()));
        }
        self.channels.insert(channel.id.clone(), channel);
    }

    /// Records that a user is a member of a conversation.
    pub fn add_member(&mut self, channel_id: &ChannelId, user_id: &UserId) {
        self.members
            .entry(channel_id.clone())
            .or_default()
            .insert(user_id.clone());
        self.member_of
            .entry(user_id.clone())
            .or_default()
            .insert(channel_id.clone());
    }

    /// Records that a user left or was removed from a conversation.
    pub fn remove_member(&mut self, channel_id: &ChannelId, user_id: &UserId) {
        if let Some(members) = self.members.get_mut(channel_id) {
            members.remove(user_id);
        }
        if let Some(channels) = self.member_of.get_mut(user_id) {
            channels.remove(channel_id);
        }
    }

    /// Returns a user.
    pub fn user(&self, user_id: &UserId) -> Option<&User> {
        self.users.get(user_id)
    }

    /// Records an unrevoked token, by the hex SHA-256 of its text, read from
    /// the store. Does nothing unless the cache contains the token's user.
    pub fn remember_token(&mut self, hash: String, user_id: &UserId, kind: TokenKind) {
        if !self.users.contains_key(user_id) || self.tokens.contains_key(&hash) {
            return;
        }
        self.user_tokens
            .entry(user_id.clone())
            .or_default()
            .push(hash.clone());
        self.tokens.insert(hash, (user_id.clone(), kind));
    }

    /// Drops every remembered token of a user.
    pub fn forget_tokens(&mut self, user_id: &UserId) {
        for hash in self.user_tokens.remove(user_id).unwrap_or_default() {
            self.tokens.remove(&hash);
        }
    }

    /// Returns the active user and the kind of a remembered token. `None` when
    /// the token is not remembered or its user is deactivated.
    pub fn token_user(&self, hash: &str) -> Option<(&User, TokenKind)> {
        let (user_id, kind) = self.tokens.get(hash)?;
        let user = self.users.get(user_id).filter(|user| !user.deleted)?;
        Some((user, *kind))
    }

    /// Returns a page of users ordered by id, deactivated ones included.
    pub fn users_page(&self, after: Option<&UserId>, limit: usize) -> Vec<&User> {
        // NOTE: the users map is not sorted, so a page sorts every id: O(n log n)
        // per page. Fine for tens of thousands of users.
        let mut ids: Vec<&UserId> = self
            .users
            .keys()
            .filter(|id| after.is_none_or(|after| *id > after))
            .collect();
        ids.sort_unstable();
        ids.into_iter()
            .take(limit)
            .filter_map(|id| self.users.get(id))
            .collect()
    }

    /// Returns a conversation.
    pub fn channel(&self, channel_id: &ChannelId) -> Option<&Channel> {
        self.channels.get(channel_id)
    }

    /// Returns every conversation, in no particular order.
    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        self.channels.values()
    }

    /// Returns whether a user is a member of a conversation.
    pub fn is_member(&self, channel_id: &ChannelId, user_id: &UserId) -> bool {
        self.members
            .get(channel_id)
            .is_some_and(|members| members.contains(user_id))
    }

    /// Returns a page of a conversation's member ids, ordered by id.
    pub fn members_page(
        &self,
        channel_id: &ChannelId,
        after: Option<&UserId>,
        limit: usize,
    ) -> Vec<UserId> {
        let Some(members) = self.members.get(channel_id) else {
            return Vec::new();
        };
        let start = match after {
            Some(after) => Bound::Excluded(after),
            None => Bound::Unbounded,
        };
        members
            .range((start, Bound::Unbounded))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Returns every member id of a conversation, ordered by id.
    pub fn members(&self, channel_id: &ChannelId) -> impl Iterator<Item = &UserId> {
        self.members.get(channel_id).into_iter().flatten()
    }

    /// Returns the ids of the conversations a user is a member of, ordered by id.
    pub fn member_channels(&self, user_id: &UserId) -> impl Iterator<Item = &ChannelId> {
        self.member_of.get(user_id).into_iter().flatten()
    }

    /// Returns up to `limit` active users whose name starts with `prefix`
    /// (compared in lower case), ordered by name.
    pub fn search_users(&self, prefix: &str, limit: usize) -> Vec<&User> {
        let prefix = prefix.to_lowercase();
        self.user_names
            .range((prefix.clone(), UserId(String::new()))..)
            .take_while(|(name, _)| name.starts_with(&prefix))
            .filter_map(|(_, id)| self.users.get(id))
            .filter(|user| !user.deleted)
            .take(limit)
            .collect()
    }

    /// Returns up to `limit` channels whose name starts with `prefix` (compared
    /// in lower case), ordered by name. Private channels appear only to their
    /// members; direct messages never.
    pub fn search_channels(&self, prefix: &str, viewer: &UserId, limit: usize) -> Vec<&Channel> {
        let prefix = prefix.to_lowercase();
        self.channel_names
            .range((prefix.clone(), ChannelId(String::new()))..)
            .take_while(|(name, _)| name.starts_with(&prefix))
            .filter_map(|(_, id)| self.channels.get(id))
            .filter(|channel| !channel.kind.is_private() || self.is_member(&channel.id, viewer))
            .take(limit)
            .collect()
    }
}

impl Hub {
    /// Returns the cache of a team, loading the team first when it is not
    /// loaded. Concurrent first callers wait on one load, because the node
    /// supervisor loads teams one at a time and each later caller finds the
    /// team in the registry.
    pub async fn team_cache(&self, team_id: &TeamId) -> Result<SharedTeamCache, ApiError> {
        if let Some(cache) = self.registry().caches.get(team_id) {
            cache.read().expect("team cache lock poisoned").mark_used();
            return Ok(cache.clone());
        }
        self.team(team_id).await?;
        let cache = self
            .registry()
            .caches
            .get(team_id)
            .map(|cache| cache.clone())
            .ok_or_else(|| {
                // The team was evicted between the load and this lookup.
                tracing::warn!(team = %team_id, "team cache missing right after loading the team");
                ApiError::ServiceUnavailable
            })?;
        Ok(cache)
    }

    /// Returns a user of a loaded team's cache. A user the cache does not hold
    /// is read from the store and, when found, added with their memberships.
    /// The admin commands write users straight to the store, possibly from
    /// another process, so this is how the cache learns of them.
    pub async fn cached_user(
        &self,
        cache: &SharedTeamCache,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Option<User>, StoreError> {
        if let Some(user) = cache
            .read()
            .expect("team cache lock poisoned")
            .user(user_id)
        {
            return Ok(Some(user.clone()));
        }
        let Some(user) = self.store().user(team_id, user_id).await? else {
            return Ok(None);
        };
        let channels = self.store().member_channels(team_id, user_id).await?;
        let mut cache = cache.write().expect("team cache lock poisoned");
        cache.upsert_user(user.clone());
        for channel_id in &channels {
            cache.add_member(channel_id, user_id);
        }
        tracing::debug!(team = %team_id, user = %user_id, "user added to the team cache from the store");
        Ok(Some(user))
    }

    /// Reads a loaded team's cache, without loading the team. Returns `None`
    /// when the team is not loaded or `read` returns `None`.
    pub fn read_loaded_cache<T>(
        &self,
        team_id: &TeamId,
        read: impl FnOnce(&TeamCache) -> Option<T>,
    ) -> Option<T> {
        let cache = self.registry().caches.get(team_id)?;
        let cache = cache.read().expect("team cache lock poisoned");
        read(&cache)
    }

    /// Returns, from a loaded team's cache, a conversation that `user_id` is a
    /// member of, and the user when active. `None` when the cache cannot
    /// confirm all of it (team not loaded, user or conversation unknown, user
    /// deactivated, or no membership recorded), so the caller reads the store.
    /// A membership the cache lacks may still be in the store: the admin
    /// command line writes the store directly.
    pub fn cached_member_access(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Option<(User, Channel, u64)> {
        self.read_loaded_cache(team_id, |cache| {
            let user = cache.user(user_id).filter(|user| !user.deleted)?;
            let channel = cache.channel(channel_id)?;
            if !cache.is_member(channel_id, user_id) {
                return None;
            }
            Some((user.clone(), channel.clone(), cache.applied_audit_id()))
        })
    }

    /// Returns whether a team's cache with the changes of audit entries up to
    /// `applied` is current, meaning no newer admin action is in the store. A
    /// failed read counts as not current, so the caller reads the store and
    /// reports that error.
    pub async fn cache_is_current(&self, team_id: &TeamId, applied: u64) -> bool {
        match self.store().last_audit_id(team_id).await {
            Ok(last) => last <= applied,
            Err(error) => {
                tracing::warn!(team = %team_id, %error, "reading the last audit id failed; reading the store instead of the team cache");
                false
            }
        }
    }

    /// Applies a committed change to a team's cache. Does nothing when the team
    /// is not loaded, because its next load reads the change from the store.
    pub fn update_team_cache(&self, team_id: &TeamId, update: impl FnOnce(&mut TeamCache)) {
        if let Some(cache) = self.registry().caches.get(team_id) {
            update(&mut cache.write().expect("team cache lock poisoned"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Profile, Role, TopicInfo};
    use crate::ts::Ts;

    fn user(id: &str, name: &str) -> User {
        User {
            id: UserId::from(id),
            team_id: TeamId::from("T1"),
            name: name.into(),
            profile: Profile::default(),
            is_bot: false,
            bot_id: None,
            role: Role::Member,
            deleted: false,
            tz: "UTC".into(),
            updated: Ts::default(),
        }
    }

    fn channel(id: &str, name: &str, kind: ChannelKind) -> Channel {
        Channel {
            id: ChannelId::from(id),
            team_id: TeamId::from("T1"),
            name: name.into(),
            kind,
            creator: UserId::from("U1"),
            created: Ts::default(),
            is_archived: false,
            is_general: false,
            topic: TopicInfo::default(),
            purpose: TopicInfo::default(),
            im_user: None,
        }
    }

    fn cache() -> TeamCache {
        TeamCache::new(Team {
            id: TeamId::from("T1"),
            name: "Team".into(),
            domain: "team".into(),
            created: Ts::default(),
        })
    }

    #[test]
    fn user_search_follows_renames() {
        let mut cache = cache();
        cache.upsert_user(user("U1", "alice"));
        cache.upsert_user(user("U2", "alfred"));
        cache.upsert_user(user("U3", "bob"));
        let names = |cache: &TeamCache, prefix: &str| -> Vec<String> {
            cache
                .search_users(prefix, 10)
                .into_iter()
                .map(|u| u.name.clone())
                .collect()
        };
        assert_eq!(names(&cache, "al"), vec!["alfred", "alice"]);
        assert_eq!(names(&cache, "AL"), vec!["alfred", "alice"]);
        cache.upsert_user(user("U1", "zelda"));
        assert_eq!(names(&cache, "al"), vec!["alfred"]);
        assert_eq!(names(&cache, "z"), vec!["zelda"]);
    }

    #[test]
    fn channel_search_hides_private_from_others() {
        let mut cache = cache();
        cache.upsert_channel(channel("C1", "design", ChannelKind::Public));
        cache.upsert_channel(channel("C2", "design-secret", ChannelKind::Private));
        cache.add_member(&ChannelId::from("C2"), &UserId::from("U1"));
        let found = |viewer: &str| -> Vec<String> {
            cache
                .search_channels("des", &UserId::from(viewer), 10)
                .into_iter()
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(found("U1"), vec!["design", "design-secret"]);
        assert_eq!(found("U2"), vec!["design"]);
    }

    #[test]
    fn user_change_forgets_tokens() {
        let mut cache = cache();
        let alice = user("U1", "alice");
        cache.upsert_user(alice.clone());
        cache.remember_token("h1".into(), &alice.id, TokenKind::User);
        cache.remember_token("h2".into(), &UserId::from("U9"), TokenKind::Bot);
        let (found, kind) = cache.token_user("h1").expect("remembered token");
        assert_eq!(found.id, alice.id);
        assert_eq!(kind, TokenKind::User);
        assert!(cache.token_user("h2").is_none(), "user not in the cache");

        // A deactivation replaces the record and drops the token, and so does
        // the reactivation after it: the store decides about the token again.
        let mut deactivated = alice.clone();
        deactivated.deleted = true;
        cache.upsert_user(deactivated);
        assert!(cache.token_user("h1").is_none());
        cache.upsert_user(alice.clone());
        assert!(cache.token_user("h1").is_none());

        cache.remember_token("h1".into(), &alice.id, TokenKind::User);
        cache.forget_tokens(&alice.id);
        assert!(cache.token_user("h1").is_none());
    }

    #[test]
    fn members_page_in_order() {
        let mut cache = cache();
        let c = ChannelId::from("C1");
        for id in ["U3", "U1", "U2", "U5", "U4"] {
            cache.add_member(&c, &UserId::from(id));
        }
        let first = cache.members_page(&c, None, 2);
        assert_eq!(first, vec![UserId::from("U1"), UserId::from("U2")]);
        let second = cache.members_page(&c, first.last(), 2);
        assert_eq!(second, vec![UserId::from("U3"), UserId::from("U4")]);
        cache.remove_member(&c, &UserId::from("U5"));
        assert_eq!(
            cache.members_page(&c, second.last(), 2),
            Vec::<UserId>::new()
        );
        assert_eq!(cache.member_channels(&UserId::from("U5")).count(), 0);
    }
}
