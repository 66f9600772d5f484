//! The team cache (Flannel): one load per team under concurrent first
//! connections and reconnect storms, coherence after each kind of write, the
//! query APIs and their paging, the two boots, the proactive profile push and
//! idle eviction. Store reads are counted by a wrapper that delegates to the
//! real SQLite store.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use switchboard_actors::audit::AuditEntry;
use switchboard_actors::billing::{ActiveMember, BillingReport};
use switchboard_actors::calendar::Month;
use switchboard_actors::domain::{Channel, Message, Team, Token, User};
use switchboard_actors::file::{File, FileFilter, FileShare};
use switchboard_actors::ids::{ChannelId, FileId, TeamId, UserId, WebhookId};
use switchboard_actors::jobs::{DeadJob, Job, ReadState};
use switchboard_actors::ports::{ChannelFilter, HistoryRange, Page, Store, StoreError, Write};
use switchboard_actors::reminder::Reminder;
use switchboard_actors::ts::Ts;
use switchboard_actors::web_auth::{BrowserSession, LoginLink};
use switchboard_actors::webhook::Webhook;
use switchboard_engine::store::sqlite::SqliteStore;

use common::TestNode;

/// The SQLite store, counting the reads that load a team cache.
struct CountingStore {
    /// The real store every call goes to.
    inner: SqliteStore,
    /// Calls of `team_channels`: one per cache load of a small team.
    team_channel_reads: AtomicUsize,
    /// Calls of `team_members`: one per cache load of a small team.
    team_member_reads: AtomicUsize,
}

impl CountingStore {
    fn open(dir: &std::path::Path) -> Arc<CountingStore> {
        Arc::new(CountingStore {
            inner: SqliteStore::open(&dir.join("switchboard.db"), false).expect("store opens"),
            team_channel_reads: AtomicUsize::new(0),
            team_member_reads: AtomicUsize::new(0),
        })
    }

    fn loads(&self) -> usize {
        self.team_channel_reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn commit(&self, batch: Vec<Vec<Write>>) -> Vec<Result<(), StoreError>> {
        self.inner.commit(batch).await
    }
    async fn team(&self, team_id: &TeamId) -> Result<Option<Team>, StoreError> {
        self.inner.team(team_id).await
    }
    async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        self.inner.teams().await
    }
    async fn token(&self, team_id: &TeamId, hash: &str) -> Result<Option<Token>, StoreError> {
        self.inner.token(team_id, hash).await
    }
    async fn user(&self, team_id: &TeamId, user_id: &UserId) -> Result<Option<User>, StoreError> {
        self.inner.user(team_id, user_id).await
    }
    async fn users(&self, team_id: &TeamId, page: Page<UserId>) -> Result<Vec<User>, StoreError> {
        self.inner.users(team_id, page).await
    }
    async fn user_by_email(
        &self,
        team_id: &TeamId,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        self.inner.user_by_email(team_id, email).await
    }
    async fn user_by_name(&self, team_id: &TeamId, name: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_by_name(team_id, name).await
    }
    async fn channel(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<Option<Channel>, StoreError> {
        self.inner.channel(team_id, channel_id).await
    }
    async fn channel_by_name(
        &self,
        team_id: &TeamId,
        name: &str,
    ) -> Result<Option<Channel>, StoreError> {
        self.inner.channel_by_name(team_id, name).await
    }
    async fn channels(
        &self,
        team_id: &TeamId,
        filter: &ChannelFilter,
        page: Page<ChannelId>,
    ) -> Result<Vec<Channel>, StoreError> {
        self.inner.channels(team_id, filter, page).await
    }
    async fn members(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        page: Page<UserId>,
    ) -> Result<Vec<UserId>, StoreError> {
        self.inner.members(team_id, channel_id, page).await
    }
    async fn member_channels(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<ChannelId>, StoreError> {
        self.inner.member_channels(team_id, user_id).await
    }
    async fn is_member(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<bool, StoreError> {
        self.inner.is_member(team_id, channel_id, user_id).await
    }
    async fn message(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        ts: Ts,
    ) -> Result<Option<Message>, StoreError> {
        self.inner.message(team_id, channel_id, ts).await
    }
    async fn history(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        range: HistoryRange,
    ) -> Result<Vec<Message>, StoreError> {
        self.inner.history(team_id, channel_id, range).await
    }
    async fn replies(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        thread_ts: Ts,
        range: HistoryRange,
    ) -> Result<Vec<Message>, StoreError> {
        self.inner
            .replies(team_id, channel_id, thread_ts, range)
            .await
    }
    async fn team_channels(
        &self,
        team_id: &TeamId,
        page: Page<ChannelId>,
    ) -> Result<Vec<Channel>, StoreError> {
        self.team_channel_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.team_channels(team_id, page).await
    }
    async fn team_members(
        &self,
        team_id: &TeamId,
        page: Page<(ChannelId, UserId)>,
    ) -> Result<Vec<(ChannelId, UserId)>, StoreError> {
        self.team_member_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.team_members(team_id, page).await
    }
    async fn last_ts(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<Option<Ts>, StoreError> {
        self.inner.last_ts(team_id, channel_id).await
    }
    async fn login_link(
        &self,
        team_id: &TeamId,
        hash: &str,
    ) -> Result<Option<LoginLink>, StoreError> {
        self.inner.login_link(team_id, hash).await
    }
    async fn browser_session(
        &self,
        team_id: &TeamId,
        hash: &str,
    ) -> Result<Option<BrowserSession>, StoreError> {
        self.inner.browser_session(team_id, hash).await
    }
    async fn webhook(
        &self,
        team_id: &TeamId,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StoreError> {
        self.inner.webhook(team_id, id).await
    }
    async fn file(&self, team_id: &TeamId, file_id: &FileId) -> Result<Option<File>, StoreError> {
        self.inner.file(team_id, file_id).await
    }
    async fn files(
        &self,
        team_id: &TeamId,
        filter: &FileFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<File>, usize), StoreError> {
        self.inner.files(team_id, filter, offset, limit).await
    }
    async fn file_shares(
        &self,
        team_id: &TeamId,
        file_id: &FileId,
    ) -> Result<Vec<FileShare>, StoreError> {
        self.inner.file_shares(team_id, file_id).await
    }
    async fn blob_references(&self, team_id: &TeamId, sha256: &str) -> Result<usize, StoreError> {
        self.inner.blob_references(team_id, sha256).await
    }
    async fn unsent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.inner.unsent_jobs(limit).await
    }
    async fn is_job_done(&self, team_id: &TeamId, job_id: &str) -> Result<bool, StoreError> {
        self.inner.is_job_done(team_id, job_id).await
    }
    async fn queue_offset(&self, topic: &str, partition: u32) -> Result<Option<i64>, StoreError> {
        self.inner.queue_offset(topic, partition).await
    }
    async fn dead_jobs(&self, team_id: &TeamId) -> Result<Vec<DeadJob>, StoreError> {
        self.inner.dead_jobs(team_id).await
    }
    async fn muted_channels(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<ChannelId>, StoreError> {
        self.inner.muted_channels(team_id, user_id).await
    }
    async fn read_state(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<Option<ReadState>, StoreError> {
        self.inner.read_state(team_id, channel_id, user_id).await
    }
    async fn active_members(
        &self,
        team_id: &TeamId,
        month: Month,
    ) -> Result<Vec<ActiveMember>, StoreError> {
        self.inner.active_members(team_id, month).await
    }
    async fn billing_report(
        &self,
        team_id: &TeamId,
        month: Month,
    ) -> Result<Option<BillingReport>, StoreError> {
        self.inner.billing_report(team_id, month).await
    }
    async fn reminder(
        &self,
        team_id: &TeamId,
        reminder_id: &str,
    ) -> Result<Option<Reminder>, StoreError> {
        self.inner.reminder(team_id, reminder_id).await
    }
    async fn user_reminders(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<Reminder>, StoreError> {
        self.inner.user_reminders(team_id, user_id).await
    }
    async fn due_reminders(&self, now: i64, limit: usize) -> Result<Vec<Reminder>, StoreError> {
        self.inner.due_reminders(now, limit).await
    }
    async fn audit_entries(
        &self,
        team_id: &TeamId,
        page: Page<u64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_entries(team_id, page).await
    }
    async fn last_audit_id(&self, team_id: &TeamId) -> Result<u64, StoreError> {
        self.inner.last_audit_id(team_id).await
    }
}

/// Starts a node over a counting store in `dir`.
async fn counting_node(dir: &std::path::Path) -> (TestNode, Arc<CountingStore>) {
    let store = CountingStore::open(dir);
    let node = TestNode::start_with_store(TestNode::config(dir), Some(store.clone())).await;
    (node, store)
}

/// Returns the names in a list of user or channel objects.
fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|item| item["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// Raises the soft open-file limit to the hard limit, for the storm test.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_sessions_load_once() {
    let dir = tempfile::tempdir().unwrap();
    let (node, store) = counting_node(dir.path()).await;
    let token = node.bootstrap.admin.token.clone();
    assert_eq!(
        store.loads(),
        0,
        "the team loads on first use, not at start"
    );

    let node = Arc::new(node);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let node = node.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move { node.connect(&token).await }));
    }
    let mut sockets = Vec::new();
    for task in tasks {
        sockets.push(task.await.expect("connect task"));
    }
    assert_eq!(sockets.len(), 100);
    assert_eq!(store.loads(), 1, "one team load for 100 first sessions");
    assert_eq!(store.team_member_reads.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_storm_loads_team_once() {
    raise_open_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let (node, store) = counting_node(dir.path()).await;
    let node = Arc::new(node);
    let token = node.bootstrap.admin.token.clone();

    // 2,000 sessions of one team at once: each asks for a socket, opens it and
    // waits for `hello` (TestNode::connect asserts the first frame).
    let mut tasks = Vec::new();
    for _ in 0..2000 {
        let node = node.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move { node.connect(&token).await }));
    }
    let mut sockets = Vec::with_capacity(2000);
    for task in tasks {
        sockets.push(task.await.expect("connect task"));
    }
    assert_eq!(sockets.len(), 2000, "every session got hello");
    assert_eq!(store.loads(), 1, "exactly one team load for the storm");
    drop(sockets);
}

#[tokio::test]
async fn cache_follows_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let admin_id = node.bootstrap.admin.user_id.to_string();
    // Load the team before the writes, so each write must update the cache.
    node.call_ok("users.search", &admin, json!({ "query": "" }))
        .await;

    // A new channel.
    let created = node
        .call_ok(
            "conversations.create",
            &admin,
            json!({ "name": "flannel-new" }),
        )
        .await;
    let channel = created["channel"]["id"].as_str().unwrap().to_owned();
    let found = node
        .call_ok(
            "conversations.search",
            &admin,
            json!({ "query": "flannel" }),
        )
        .await;
    assert_eq!(names(&found["channels"]), vec!["flannel-new"]);

    // A rename.
    node.call_ok(
        "conversations.rename",
        &admin,
        json!({ "channel": channel, "name": "flannel-renamed" }),
    )
    .await;
    let found = node
        .call_ok(
            "conversations.search",
            &admin,
            json!({ "query": "flannel-" }),
        )
        .await;
    assert_eq!(names(&found["channels"]), vec!["flannel-renamed"]);

    // A new user, created straight in the store as the admin command does.
    let (bob, bob_token) = node.create_user("bob").await;
    let info = node
        .call_ok("users.info", &admin, json!({ "user": bob }))
        .await;
    assert_eq!(info["user"]["name"], "bob");
    let found = node
        .call_ok("users.search", &admin, json!({ "query": "bo" }))
        .await;
    assert_eq!(names(&found["members"]), vec!["bob"]);

    // A join, through an invite, and a leave.
    node.call_ok(
        "conversations.invite",
        &admin,
        json!({ "channel": channel, "users": bob }),
    )
    .await;
    let members = node
        .call_ok(
            "conversations.members",
            &admin,
            json!({ "channel": channel }),
        )
        .await;
    let mut expected = vec![admin_id.clone(), bob.clone()];
    expected.sort();
    assert_eq!(members["members"], json!(expected));
    node.call_ok(
        "conversations.leave",
        &bob_token,
        json!({ "channel": channel }),
    )
    .await;
    let members = node
        .call_ok(
            "conversations.members",
            &admin,
            json!({ "channel": channel }),
        )
        .await;
    assert_eq!(members["members"], json!([admin_id]));

    // An archive.
    node.call_ok(
        "conversations.archive",
        &admin,
        json!({ "channel": channel }),
    )
    .await;
    let found = node
        .call_ok(
            "conversations.search",
            &admin,
            json!({ "query": "flannel-renamed" }),
        )
        .await;
    assert_eq!(found["channels"][0]["is_archived"], true);

    // A direct message, visible in the light boot of both sides.
    let opened = node
        .call_ok("conversations.open", &admin, json!({ "users": bob }))
        .await;
    let dm = opened["channel"]["id"].as_str().unwrap().to_owned();
    let boot = node.call_ok("client.boot", &bob_token, json!({})).await;
    let dm_entry = boot["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == dm.as_str())
        .cloned()
        .expect("the DM is in bob's boot");
    assert_eq!(dm_entry["is_im"], true);
    assert_eq!(dm_entry["user"], admin_id.as_str());

    // A private channel stays hidden from non-members.
    node.call_ok(
        "conversations.create",
        &admin,
        json!({ "name": "flannel-secret", "is_private": true }),
    )
    .await;
    let found = node
        .call_ok(
            "conversations.search",
            &bob_token,
            json!({ "query": "flannel-s" }),
        )
        .await;
    assert_eq!(found["channels"], json!([]));
    node.stop().await;
}

#[tokio::test]
async fn query_apis_page_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let mut created = Vec::new();
    for name in ["pa", "pb", "pc", "pd", "pe"] {
        created.push(node.create_user(name).await.0);
    }

    // users.list in pages of 2: every user once, in id order.
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = node
            .call_ok(
                "users.list",
                &admin,
                json!({ "limit": 2, "cursor": cursor }),
            )
            .await;
        let members = page["members"].as_array().unwrap();
        assert!(members.len() <= 2, "page larger than the limit: {page}");
        listed.extend(members.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(listed, sorted, "users in id order without repeats");
    for id in &created {
        assert!(listed.contains(id), "{id} missing from users.list");
    }
    // Admin, bot and five users.
    assert_eq!(listed.len(), 7);

    // conversations.members of #general in pages of 3.
    let general = node
        .call_ok(
            "conversations.search",
            &admin,
            json!({ "query": "general" }),
        )
        .await["channels"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut members = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = node
            .call_ok(
                "conversations.members",
                &admin,
                json!({ "channel": general, "limit": 3, "cursor": cursor }),
            )
            .await;
        members.extend(
            page["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned()),
        );
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    let mut sorted = members.clone();
    sorted.sort();
    assert_eq!(members, sorted);
    for id in &created {
        assert!(members.contains(id), "{id} missing from #general");
    }

    // users.infoBatch: request order, repeats removed, unknown ids reported.
    let batch = node
        .call_ok(
            "users.infoBatch",
            &admin,
            json!({ "users": format!("{},{},{},UNOSUCH", created[2], created[0], created[2]) }),
        )
        .await;
    assert_eq!(names(&batch["users"]), vec!["pc", "pa"]);
    assert_eq!(batch["not_found"], json!(["UNOSUCH"]));

    // users.search: prefix, limit, a leading `@`.
    let found = node
        .call_ok("users.search", &admin, json!({ "query": "@P", "limit": 3 }))
        .await;
    assert_eq!(names(&found["members"]), vec!["pa", "pb", "pc"]);
    let missing = node.call("users.search", &admin, json!({})).await;
    assert_eq!(missing["error"], "invalid_arguments");
    node.stop().await;
}

#[tokio::test]
async fn boots_differ_in_size() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    for index in 0..5 {
        node.create_user(&format!("boot{index}")).await;
    }
    let full = node.call_ok("rtm.start", &admin, json!({})).await;
    let light = node.call_ok("client.boot", &admin, json!({})).await;
    assert_eq!(full["users"].as_array().unwrap().len(), 7);
    assert!(full["channels"][0]["members"].is_array());
    assert!(light.get("users").is_none(), "client.boot sends no users");
    assert_eq!(light["self"]["id"], node.bootstrap.admin.user_id.as_str());
    assert!(light["url"].as_str().unwrap().starts_with("ws://"));
    assert!(full.to_string().len() > light.to_string().len());
    // Both URLs open a socket that says hello.
    node.connect_with("rtm.start", &admin).await;
    node.connect_with("client.boot", &admin).await;
    node.stop().await;
}

#[tokio::test]
async fn profile_push_precedes_message() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let (carol, carol_token) = node.create_user("carol").await;
    let (dave, _) = node.create_user("dave").await;
    let general = node
        .call_ok(
            "conversations.search",
            &admin,
            json!({ "query": "general" }),
        )
        .await["channels"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut admin_socket = node.connect_with("client.boot", &admin).await;
    let text = format!("hello <@{dave}>");
    node.call_ok(
        "chat.postMessage",
        &carol_token,
        json!({ "channel": general, "text": text }),
    )
    .await;
    let first = admin_socket
        .next_matching(|e| e["type"] == "user_change" || e["type"] == "message")
        .await;
    assert_eq!(
        first["type"], "user_change",
        "author profile first: {first}"
    );
    assert_eq!(first["user"]["id"], carol.as_str());
    let second = admin_socket
        .next_matching(|e| e["type"] == "user_change" || e["type"] == "message")
        .await;
    assert_eq!(
        second["type"], "user_change",
        "mentioned profile next: {second}"
    );
    assert_eq!(second["user"]["id"], dave.as_str());
    let third = admin_socket
        .next_matching(|e| e["type"] == "user_change" || e["type"] == "message")
        .await;
    assert_eq!(third["type"], "message");
    assert_eq!(third["text"], text.as_str());

    // The same author again: no second profile.
    node.call_ok(
        "chat.postMessage",
        &carol_token,
        json!({ "channel": general, "text": "again" }),
    )
    .await;
    let next = admin_socket
        .next_matching(|e| e["type"] == "user_change" || e["type"] == "message")
        .await;
    assert_eq!(next["type"], "message", "profile sent once: {next}");

    // A session opened by rtm.connect gets no pushed profiles.
    let mut plain = node.connect(&admin).await;
    node.call_ok(
        "chat.postMessage",
        &carol_token,
        json!({ "channel": general, "text": "plain" }),
    )
    .await;
    let next = plain
        .next_matching(|e| e["type"] == "user_change" || e["type"] == "message")
        .await;
    assert_eq!(next["type"], "message");
    node.stop().await;
}

#[tokio::test]
async fn evicted_team_reloads_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = CountingStore::open(dir.path());
    let mut config = TestNode::config(dir.path());
    config.team_idle_secs = 1;
    let node = TestNode::start_with_store(config, Some(store.clone())).await;
    let admin = node.bootstrap.admin.token.clone();
    node.create_user("evi").await;

    let search = json!({ "query": "" });
    let before = node.call_ok("users.search", &admin, search.clone()).await;
    let channels_before = node
        .call_ok("conversations.search", &admin, search.clone())
        .await;
    let boot_before = node.call_ok("client.boot", &admin, json!({})).await;
    assert_eq!(store.loads(), 1);

    // Wait, bounded, until the idle team is evicted.
    let team = node.bootstrap.team_id.clone();
    let mut evicted = false;
    for _ in 0..100 {
        if !node.engine.hub().registry().caches.contains_key(&team) {
            evicted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(evicted, "the idle team was not evicted");

    let after = node.call_ok("users.search", &admin, search.clone()).await;
    let channels_after = node.call_ok("conversations.search", &admin, search).await;
    let boot_after = node.call_ok("client.boot", &admin, json!({})).await;
    assert_eq!(store.loads(), 2, "the team loaded again");
    assert_eq!(after["members"], before["members"]);
    assert_eq!(channels_after["channels"], channels_before["channels"]);
    assert_eq!(boot_after["channels"], boot_before["channels"]);
    node.stop().await;
}
