//! The conformance suite every [`Store`] backend must pass: each operation,
//! pagination edges, concurrent writers, long and emoji text, deleted and
//! edited messages, archived channels, and the per-write-set rollback of a
//! batch.
//!
//! Each case is a public async function that takes a freshly opened store.
//! [`run_case`] runs it inside a new random team, so cases can share one
//! database (a MySQL test database keeps rows between runs) without seeing each
//! other's rows. [`store_conformance_tests!`](crate::store_conformance_tests)
//! expands to one `#[tokio::test]` per case for a backend; the root package's
//! `tests/store_conformance.rs` runs it against SQLite and MariaDB.
//!
//! The cases panic on failure, as tests do. The module is public (not
//! `cfg(test)`) so that integration tests of other packages can run it.

use std::future::Future;
use std::sync::Arc;

use serde_json::json;

use switchboard_actors::billing::{ActiveMember, BillingReport};
use switchboard_actors::calendar::{Day, Month};
use switchboard_actors::domain::{
    Channel, ChannelKind, Edited, Message, Profile, ReactionSummary, Role, Team, Token, TokenKind,
    TopicInfo, User, MAX_MESSAGE_CHARS,
};
use switchboard_actors::file::{File, FileFilter, FileKind, FileShare, FileState};
use switchboard_actors::ids::{BotId, ChannelId, FileId, TeamId, UserId, WebhookId};
use switchboard_actors::jobs::{DeadJob, Job, JobPayload, ReadState};
use switchboard_actors::ports::{ChannelFilter, HistoryRange, Page, Store, StoreError, Write};
use switchboard_actors::reminder::Reminder;
use switchboard_actors::ts::Ts;
use switchboard_actors::webhook::Webhook;

tokio::task_local! {
    /// The team the running case writes to.
    static CASE_TEAM: TeamId;
}

/// Runs one case against `store` inside a new random team.
pub async fn run_case<F, Fut>(store: Arc<dyn Store>, case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    CASE_TEAM.scope(TeamId::generate(), case(store)).await;
}

/// Runs `future` in the current case's team; for tasks a case spawns, which do
/// not inherit the task-local team.
fn in_this_team<F: Future>(future: F) -> impl Future<Output = F::Output> {
    CASE_TEAM.scope(team_id(), future)
}

/// Returns the team the running case writes to.
fn team_id() -> TeamId {
    CASE_TEAM.with(TeamId::clone)
}

/// Returns a second team of the running case, for checks that rows stay inside
/// their team.
fn other_team_id() -> TeamId {
    TeamId(format!("{}X", team_id()))
}

fn user(id: &str, name: &str, email: &str) -> User {
    User {
        id: UserId::from(id),
        team_id: team_id(),
        name: name.to_owned(),
        profile: Profile {
            real_name: format!("Real {name}"),
            display_name: name.to_owned(),
            email: email.to_owned(),
            title: "Engineer".to_owned(),
            phone: String::new(),
            status_text: "In a meeting".to_owned(),
            status_emoji: ":calendar:".to_owned(),
        },
        is_bot: false,
        bot_id: None,
        role: Role::Member,
        deleted: false,
        tz: "Europe/Berlin".to_owned(),
        updated: Ts(1_700_000_000_000_000),
    }
}

fn channel(id: &str, name: &str, kind: ChannelKind) -> Channel {
    Channel {
        id: ChannelId::from(id),
        team_id: team_id(),
        name: name.to_owned(),
        kind,
        creator: UserId::from("U1"),
        created: Ts(1_000),
        is_archived: false,
        is_general: false,
        topic: TopicInfo::default(),
        purpose: TopicInfo::default(),
        im_user: None,
    }
}

fn message(channel_id: &str, ts: u64, user_id: &str) -> Message {
    Message::new(
        team_id(),
        ChannelId::from(channel_id),
        UserId::from(user_id),
        format!("message at {ts}"),
        Ts(ts),
    )
}

fn reply(channel_id: &str, ts: u64, parent_ts: u64, user_id: &str) -> Message {
    let mut reply = message(channel_id, ts, user_id);
    reply.thread_ts = Some(Ts(parent_ts));
    reply
}

fn add_member(channel_id: &str, user_id: &str) -> Write {
    Write::AddMember {
        team_id: team_id(),
        channel_id: ChannelId::from(channel_id),
        user_id: UserId::from(user_id),
        joined: Ts(2_000),
    }
}

fn add_reaction(channel_id: &str, ts: u64, name: &str, user_id: &str, added: u64) -> Write {
    Write::AddReaction {
        team_id: team_id(),
        channel_id: ChannelId::from(channel_id),
        ts: Ts(ts),
        name: name.to_owned(),
        user_id: UserId::from(user_id),
        added: Ts(added),
    }
}

fn remove_reaction(channel_id: &str, ts: u64, name: &str, user_id: &str) -> Write {
    Write::RemoveReaction {
        team_id: team_id(),
        channel_id: ChannelId::from(channel_id),
        ts: Ts(ts),
        name: name.to_owned(),
        user_id: UserId::from(user_id),
    }
}

fn delete_message(channel_id: &str, ts: u64) -> Write {
    Write::DeleteMessage {
        team_id: team_id(),
        channel_id: ChannelId::from(channel_id),
        ts: Ts(ts),
    }
}

fn range(latest: Option<u64>, oldest: Option<u64>, inclusive: bool, limit: usize) -> HistoryRange {
    HistoryRange {
        latest: latest.map(Ts),
        oldest: oldest.map(Ts),
        inclusive,
        limit,
    }
}

fn everything() -> HistoryRange {
    range(None, None, true, 1_000)
}

fn page<K>(after: Option<K>, limit: usize) -> Page<K> {
    Page { after, limit }
}

/// Commits one write set alone and returns its result.
async fn commit_set(store: &Arc<dyn Store>, writes: Vec<Write>) -> Result<(), StoreError> {
    let mut results = store.commit(vec![writes]).await;
    assert_eq!(results.len(), 1, "one result per write set");
    results.remove(0)
}

/// Commits one write set that must succeed.
async fn commit_ok(store: &Arc<dyn Store>, writes: Vec<Write>) {
    commit_set(store, writes).await.expect("write set commits");
}

async fn history_ts(store: &Arc<dyn Store>, range: HistoryRange) -> Vec<u64> {
    store
        .history(&team_id(), &ChannelId::from("C1"), range)
        .await
        .expect("read history")
        .iter()
        .map(|message| message.ts.0)
        .collect()
}

async fn replies_ts(store: &Arc<dyn Store>, thread_ts: u64, range: HistoryRange) -> Vec<u64> {
    store
        .replies(&team_id(), &ChannelId::from("C1"), Ts(thread_ts), range)
        .await
        .expect("read replies")
        .iter()
        .map(|message| message.ts.0)
        .collect()
}

async fn read_message(store: &Arc<dyn Store>, channel_id: &str, ts: u64) -> Option<Message> {
    store
        .message(&team_id(), &ChannelId::from(channel_id), Ts(ts))
        .await
        .expect("read message")
}

/// Writes channel C1 and the messages at the given `ts` values, all by U1.
async fn with_messages(store: &Arc<dyn Store>, timestamps: &[u64]) {
    let mut writes = vec![Write::InsertChannel(channel(
        "C1",
        "general",
        ChannelKind::Public,
    ))];
    writes.extend(
        timestamps
            .iter()
            .map(|ts| Write::InsertMessage(message("C1", *ts, "U1"))),
    );
    commit_ok(store, writes).await;
}

fn reaction(name: &str, users: &[&str]) -> ReactionSummary {
    ReactionSummary {
        name: name.to_owned(),
        users: users.iter().map(|id| UserId::from(*id)).collect(),
        count: users.len(),
    }
}

fn channel_ids(channels: &[Channel]) -> Vec<&str> {
    channels.iter().map(|channel| channel.id.as_str()).collect()
}

pub async fn teams_round_trip_oldest_first(store: Arc<dyn Store>) {
    let first = team_id();
    let second = other_team_id();
    let team_at = |id: &TeamId, created: u64| Team {
        id: id.clone(),
        name: format!("Team {id}"),
        domain: id.as_str().to_lowercase(),
        created: Ts(created),
    };
    commit_ok(
        &store,
        vec![
            Write::InsertTeam(team_at(&second, 20)),
            Write::InsertTeam(team_at(&first, 10)),
        ],
    )
    .await;

    assert_eq!(
        store.team(&second).await.unwrap(),
        Some(team_at(&second, 20))
    );
    assert_eq!(
        store.team(&TeamId(format!("{first}NONE"))).await.unwrap(),
        None
    );
    // A shared database contains other cases' teams too, so check only the
    // relative order of this case's two.
    let ours: Vec<Team> = store
        .teams()
        .await
        .unwrap()
        .into_iter()
        .filter(|team| team.id == first || team.id == second)
        .collect();
    assert_eq!(ours, vec![team_at(&first, 10), team_at(&second, 20)]);
    let duplicate = commit_set(&store, vec![Write::InsertTeam(team_at(&first, 30))]).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
}

/// Returns a text of the maximum length the API accepts, in 4-byte characters.
fn longest_emoji_text() -> String {
    "😀🚀".repeat(MAX_MESSAGE_CHARS / 2)
}

pub async fn long_and_emoji_text_round_trips(store: Arc<dyn Store>) {
    let mut emoji_channel = channel("C1", "général-🎉", ChannelKind::Public);
    emoji_channel.topic = TopicInfo {
        value: "Release 🚢 day 👩‍💻".to_owned(),
        creator: "U1".to_owned(),
        last_set: 1_700_000_000,
    };
    let mut emoji_user = user("U1", "zoë-🦀", "zoë@example.com");
    emoji_user.profile.status_emoji = ":crab:".to_owned();
    emoji_user.profile.status_text = "Shipping 🦀 code".to_owned();

    let mut longest = message("C1", 100, "U1");
    longest.text = longest_emoji_text();
    assert_eq!(longest.text.chars().count(), MAX_MESSAGE_CHARS);
    let mut mixed = message("C1", 200, "U1");
    mixed.text = "plain, ümlaut, 漢字, 🏳️‍🌈 and 𝄞".to_owned();
    mixed.extra.insert("username".to_owned(), json!("bot 🤖"));

    commit_ok(
        &store,
        vec![
            Write::InsertChannel(emoji_channel.clone()),
            Write::InsertUser(emoji_user.clone()),
            Write::InsertMessage(longest.clone()),
            Write::InsertMessage(mixed.clone()),
            add_reaction("C1", 200, "tada", "U1", 1),
        ],
    )
    .await;

    assert_eq!(read_message(&store, "C1", 100).await, Some(longest.clone()));
    let mut mixed_with_reaction = mixed.clone();
    mixed_with_reaction.reactions = vec![reaction("tada", &["U1"])];
    assert_eq!(
        read_message(&store, "C1", 200).await,
        Some(mixed_with_reaction)
    );
    assert_eq!(
        store
            .channel_by_name(&team_id(), "général-🎉")
            .await
            .unwrap(),
        Some(emoji_channel)
    );
    assert_eq!(
        store.user_by_name(&team_id(), "zoë-🦀").await.unwrap(),
        Some(emoji_user.clone())
    );
    assert_eq!(
        store
            .user_by_email(&team_id(), "ZOË@example.com")
            .await
            .unwrap(),
        Some(emoji_user)
    );

    let mut edited = longest.clone();
    edited.text = format!("{}✅", "x".repeat(MAX_MESSAGE_CHARS - 1));
    edited.edited = Some(Edited {
        user: UserId::from("U1"),
        ts: Ts(300),
    });
    commit_ok(&store, vec![Write::UpdateMessage(edited.clone())]).await;
    assert_eq!(read_message(&store, "C1", 100).await, Some(edited));
}

pub async fn batch_of_longest_messages_commits(store: Arc<dyn Store>) {
    with_messages(&store, &[]).await;
    let text = longest_emoji_text();
    let batch: Vec<Vec<Write>> = (1..=120u64)
        .map(|ts| {
            let mut posted = message("C1", ts, "U1");
            posted.text = text.clone();
            vec![Write::InsertMessage(posted)]
        })
        .collect();

    let results = store.commit(batch).await;

    assert_eq!(results.len(), 120);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let history = store
        .history(&team_id(), &ChannelId::from("C1"), everything())
        .await
        .unwrap();
    assert_eq!(history.len(), 120);
    assert!(history.iter().all(|message| message.text == text));
}

pub async fn batch_of_posts_keeps_each_result(store: Arc<dyn Store>) {
    with_messages(&store, &[50]).await;
    // 200 plain posts, one of them a duplicate ts, a reply and a reply to a
    // missing parent among them: each failing set fails alone.
    let mut batch: Vec<Vec<Write>> = (100..300u64)
        .map(|ts| vec![Write::InsertMessage(message("C1", ts, "U2"))])
        .collect();
    batch[10] = vec![Write::InsertMessage(message("C1", 50, "U2"))];
    batch[20] = vec![Write::InsertMessage(reply("C1", 120, 100, "U3"))];
    batch[30] = vec![Write::InsertMessage(reply("C1", 130, 99, "U3"))];

    let results = store.commit(batch).await;

    assert_eq!(results.len(), 200);
    assert!(
        matches!(results[10], Err(StoreError::Conflict(_))),
        "{:?}",
        results[10]
    );
    assert_eq!(results[20], Ok(()));
    assert!(
        matches!(results[30], Err(StoreError::NotFound(_))),
        "{:?}",
        results[30]
    );
    let failed = results.iter().filter(|result| result.is_err()).count();
    assert_eq!(failed, 2, "only the duplicate and the orphan reply fail");

    let original = read_message(&store, "C1", 50).await.unwrap();
    assert_eq!(
        original.user,
        UserId::from("U1"),
        "the duplicate did not overwrite"
    );
    assert_eq!(read_message(&store, "C1", 130).await, None);
    let parent = read_message(&store, "C1", 100).await.unwrap();
    assert_eq!(parent.reply_count, Some(1));
    let history = history_ts(&store, range(None, None, true, 1_000)).await;
    assert_eq!(
        history.len(),
        1 + 200 - 3,
        "the original, minus the duplicate, reply and orphan"
    );
}

pub async fn concurrent_writers_on_one_channel(store: Arc<dyn Store>) {
    with_messages(&store, &[]).await;
    const WRITERS: u64 = 8;
    const POSTS_PER_WRITER: u64 = 25;

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            tokio::spawn(in_this_team(async move {
                for post in 0..POSTS_PER_WRITER {
                    // Interleaved ts values, so concurrent commits insert
                    // between each other's rows.
                    let ts = 1_000 + post * WRITERS + writer;
                    commit_ok(&store, vec![Write::InsertMessage(message("C1", ts, "U1"))]).await;
                }
            }))
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer task");
    }

    let history = history_ts(&store, range(None, None, true, 1_000)).await;
    let expected: Vec<u64> = (0..WRITERS * POSTS_PER_WRITER)
        .rev()
        .map(|offset| 1_000 + offset)
        .collect();
    assert_eq!(history, expected);
    assert_eq!(
        store
            .last_ts(&team_id(), &ChannelId::from("C1"))
            .await
            .unwrap(),
        Some(Ts(1_000 + WRITERS * POSTS_PER_WRITER - 1))
    );
}

pub async fn history_exactly_one_page(store: Arc<dyn Store>) {
    with_messages(&store, &[10, 20, 30]).await;

    let page = history_ts(&store, range(None, None, false, 3)).await;
    assert_eq!(page, vec![30, 20, 10]);
    let next = history_ts(&store, range(Some(10), None, false, 3)).await;
    assert!(next.is_empty(), "the page after the only page: {next:?}");
    let inclusive_next = history_ts(&store, range(Some(10), None, true, 3)).await;
    assert_eq!(
        inclusive_next,
        vec![10],
        "inclusive repeats the boundary message"
    );
    let single = history_ts(&store, range(Some(20), Some(20), true, 1)).await;
    assert_eq!(single, vec![20]);
}

pub async fn archived_channel_round_trip(store: Arc<dyn Store>) {
    let mut general = channel("C1", "general", ChannelKind::Public);
    commit_ok(
        &store,
        vec![
            Write::InsertChannel(general.clone()),
            add_member("C1", "U1"),
            Write::InsertMessage(message("C1", 100, "U1")),
        ],
    )
    .await;
    let listed = |exclude_archived: bool| {
        let store = Arc::clone(&store);
        in_this_team(async move {
            let found = store
                .channels(
                    &team_id(),
                    &filter(ALL_KINDS, "U1", false, exclude_archived),
                    page(None, 10),
                )
                .await
                .unwrap();
            found
                .into_iter()
                .map(|channel| channel.id.0)
                .collect::<Vec<_>>()
        })
    };

    general.is_archived = true;
    commit_ok(&store, vec![Write::UpdateChannel(general.clone())]).await;

    let stored = store
        .channel(&team_id(), &ChannelId::from("C1"))
        .await
        .unwrap()
        .unwrap();
    assert!(stored.is_archived);
    assert!(
        listed(true).await.is_empty(),
        "archived channels are left out"
    );
    assert_eq!(listed(false).await, vec!["C1"]);
    assert_eq!(
        history_ts(&store, everything()).await,
        vec![100],
        "history stays readable"
    );
    assert!(store
        .is_member(&team_id(), &ChannelId::from("C1"), &UserId::from("U1"))
        .await
        .unwrap());

    general.is_archived = false;
    commit_ok(&store, vec![Write::UpdateChannel(general)]).await;
    assert_eq!(
        listed(true).await,
        vec!["C1"],
        "unarchived channels are listed again"
    );
}

pub async fn rewriting_equal_values_is_not_missing(store: Arc<dyn Store>) {
    let ada = user("U1", "ada", "ada@example.com");
    let general = channel("C1", "general", ChannelKind::Public);
    let posted = message("C1", 100, "U1");
    commit_ok(
        &store,
        vec![
            Write::InsertUser(ada.clone()),
            Write::InsertChannel(general.clone()),
            Write::InsertMessage(posted.clone()),
        ],
    )
    .await;

    let results = store
        .commit(vec![
            vec![Write::UpdateUser(ada)],
            vec![Write::UpdateChannel(general)],
            vec![Write::UpdateMessage(posted)],
        ])
        .await;

    assert_eq!(
        results,
        vec![Ok(()), Ok(()), Ok(())],
        "an update that changes nothing still finds its row"
    );
}

pub async fn users_round_trip_and_update(store: Arc<dyn Store>) {
    let mut bot = user("U3", "deploy-bot", "");
    bot.is_bot = true;
    bot.bot_id = Some(BotId::from("B1"));
    let ada = user("U1", "ada", "Ada@Example.com");
    commit_ok(
        &store,
        vec![
            Write::InsertUser(ada.clone()),
            Write::InsertUser(user("U2", "grace", "grace@example.com")),
            Write::InsertUser(bot.clone()),
        ],
    )
    .await;

    assert_eq!(
        store.user(&team_id(), &UserId::from("U1")).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        store.user(&team_id(), &UserId::from("U3")).await.unwrap(),
        Some(bot)
    );
    assert_eq!(
        store.user_by_name(&team_id(), "ada").await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        store
            .user_by_email(&team_id(), "ADA@example.COM")
            .await
            .unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        store.user_by_email(&team_id(), "").await.unwrap(),
        None,
        "empty e-mail matches no bot"
    );
    assert_eq!(
        store
            .user(&other_team_id(), &UserId::from("U1"))
            .await
            .unwrap(),
        None
    );

    let mut renamed = ada.clone();
    renamed.name = "ada.l".to_owned();
    renamed.profile.email = "countess@example.com".to_owned();
    renamed.role = Role::Admin;
    renamed.deleted = true;
    renamed.updated = Ts(1_800_000_000_000_000);
    commit_ok(&store, vec![Write::UpdateUser(renamed.clone())]).await;

    assert_eq!(
        store.user(&team_id(), &UserId::from("U1")).await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(store.user_by_name(&team_id(), "ada").await.unwrap(), None);
    assert_eq!(
        store
            .user_by_email(&team_id(), "ada@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .user_by_email(&team_id(), "Countess@Example.com")
            .await
            .unwrap(),
        Some(renamed)
    );
}

pub async fn users_page_after_is_exclusive(store: Arc<dyn Store>) {
    commit_ok(
        &store,
        vec![
            Write::InsertUser(user("U3", "c", "c@example.com")),
            Write::InsertUser(user("U1", "a", "a@example.com")),
            Write::InsertUser(user("U2", "b", "b@example.com")),
        ],
    )
    .await;

    let ids = |users: Vec<User>| users.into_iter().map(|user| user.id.0).collect::<Vec<_>>();
    let first = store.users(&team_id(), page(None, 2)).await.unwrap();
    assert_eq!(ids(first), vec!["U1", "U2"]);
    let second = store
        .users(&team_id(), page(Some(UserId::from("U2")), 2))
        .await
        .unwrap();
    assert_eq!(ids(second), vec!["U3"]);
    let past_end = store
        .users(&team_id(), page(Some(UserId::from("U3")), 2))
        .await
        .unwrap();
    assert!(past_end.is_empty());
}

pub async fn user_name_conflicts_and_missing_user(store: Arc<dyn Store>) {
    commit_ok(
        &store,
        vec![
            Write::InsertUser(user("U1", "ada", "a@example.com")),
            Write::InsertUser(user("U2", "grace", "g@example.com")),
        ],
    )
    .await;

    let duplicate_name = commit_set(
        &store,
        vec![Write::InsertUser(user("U3", "ada", "x@example.com"))],
    )
    .await;
    assert!(
        matches!(duplicate_name, Err(StoreError::Conflict(_))),
        "{duplicate_name:?}"
    );

    let rename_to_taken = commit_set(
        &store,
        vec![Write::UpdateUser(user("U2", "ada", "g@example.com"))],
    )
    .await;
    assert!(
        matches!(rename_to_taken, Err(StoreError::Conflict(_))),
        "{rename_to_taken:?}"
    );

    let missing = commit_set(&store, vec![Write::UpdateUser(user("U9", "nobody", ""))]).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

pub async fn tokens_round_trip(store: Arc<dyn Store>) {
    let token = Token {
        team_id: team_id(),
        hash: "ab".repeat(32),
        user_id: UserId::from("U1"),
        kind: TokenKind::Bot,
        created: Ts(5_000),
        revoked: false,
    };
    commit_ok(&store, vec![Write::InsertToken(token.clone())]).await;

    assert_eq!(
        store.token(&team_id(), &token.hash).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        store.token(&other_team_id(), &token.hash).await.unwrap(),
        None
    );
    assert_eq!(store.token(&team_id(), "cd").await.unwrap(), None);
    let duplicate = commit_set(&store, vec![Write::InsertToken(token)]).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
}

pub async fn channels_round_trip_and_update(store: Arc<dyn Store>) {
    let mut im = channel("D1", "U1-U2", ChannelKind::Im);
    im.im_user = Some(UserId::from("U2"));
    let general = channel("C1", "general", ChannelKind::Public);
    commit_ok(
        &store,
        vec![
            Write::InsertChannel(general.clone()),
            Write::InsertChannel(channel("C2", "random", ChannelKind::Public)),
            Write::InsertChannel(im.clone()),
        ],
    )
    .await;

    assert_eq!(
        store
            .channel(&team_id(), &ChannelId::from("C1"))
            .await
            .unwrap(),
        Some(general.clone())
    );
    assert_eq!(
        store
            .channel(&team_id(), &ChannelId::from("D1"))
            .await
            .unwrap(),
        Some(im)
    );
    assert_eq!(
        store.channel_by_name(&team_id(), "general").await.unwrap(),
        Some(general.clone())
    );
    assert_eq!(
        store.channel_by_name(&team_id(), "nope").await.unwrap(),
        None
    );

    let mut updated = general.clone();
    updated.name = "town-square".to_owned();
    updated.is_archived = true;
    updated.is_general = true;
    updated.topic = TopicInfo {
        value: "Welcome".to_owned(),
        creator: "U1".to_owned(),
        last_set: 1_700_000_000,
    };
    updated.purpose = TopicInfo {
        value: "Everything".to_owned(),
        creator: "U2".to_owned(),
        last_set: 1_700_000_001,
    };
    commit_ok(&store, vec![Write::UpdateChannel(updated.clone())]).await;

    assert_eq!(
        store
            .channel(&team_id(), &ChannelId::from("C1"))
            .await
            .unwrap(),
        Some(updated)
    );
    assert_eq!(
        store.channel_by_name(&team_id(), "general").await.unwrap(),
        None
    );

    let random_renamed = channel("C2", "town-square", ChannelKind::Public);
    let rename_to_taken = commit_set(&store, vec![Write::UpdateChannel(random_renamed)]).await;
    assert!(
        matches!(rename_to_taken, Err(StoreError::Conflict(_))),
        "{rename_to_taken:?}"
    );

    let missing = commit_set(
        &store,
        vec![Write::UpdateChannel(channel(
            "C9",
            "ghost",
            ChannelKind::Public,
        ))],
    )
    .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

pub async fn channel_names_are_unique_per_team(store: Arc<dyn Store>) {
    let mut other_team = channel("C2", "general", ChannelKind::Public);
    other_team.team_id = other_team_id();

    let results = store
        .commit(vec![
            vec![Write::InsertChannel(channel(
                "C1",
                "general",
                ChannelKind::Public,
            ))],
            vec![Write::InsertChannel(other_team.clone())],
        ])
        .await;

    assert_eq!(results, vec![Ok(()), Ok(())]);
    assert_eq!(
        store
            .channel_by_name(&other_team_id(), "general")
            .await
            .unwrap(),
        Some(other_team)
    );
}

pub async fn members_round_trip(store: Arc<dyn Store>) {
    commit_ok(
        &store,
        vec![
            Write::InsertChannel(channel("C1", "general", ChannelKind::Public)),
            Write::InsertChannel(channel("C2", "random", ChannelKind::Public)),
            add_member("C1", "U3"),
            add_member("C1", "U1"),
            add_member("C1", "U2"),
            add_member("C2", "U1"),
        ],
    )
    .await;
    let c1 = ChannelId::from("C1");
    let ids = |members: Vec<UserId>| members.into_iter().map(|id| id.0).collect::<Vec<_>>();

    assert_eq!(
        ids(store
            .members(&team_id(), &c1, page(None, 10))
            .await
            .unwrap()),
        vec!["U1", "U2", "U3"]
    );
    assert_eq!(
        ids(store
            .members(&team_id(), &c1, page(Some(UserId::from("U1")), 1))
            .await
            .unwrap()),
        vec!["U2"]
    );
    assert_eq!(
        store
            .member_channels(&team_id(), &UserId::from("U1"))
            .await
            .unwrap(),
        vec![ChannelId::from("C1"), ChannelId::from("C2")]
    );
    assert!(store
        .is_member(&team_id(), &c1, &UserId::from("U2"))
        .await
        .unwrap());

    let remove = Write::RemoveMember {
        team_id: team_id(),
        channel_id: c1.clone(),
        user_id: UserId::from("U2"),
    };
    commit_ok(&store, vec![remove.clone()]).await;

    assert!(!store
        .is_member(&team_id(), &c1, &UserId::from("U2"))
        .await
        .unwrap());
    assert!(store
        .member_channels(&team_id(), &UserId::from("U2"))
        .await
        .unwrap()
        .is_empty());
    let removed_again = commit_set(&store, vec![remove]).await;
    assert!(
        matches!(removed_again, Err(StoreError::NotFound(_))),
        "{removed_again:?}"
    );
}

pub async fn member_of_missing_channel_is_not_found(store: Arc<dyn Store>) {
    let result = commit_set(&store, vec![add_member("C9", "U1")]).await;

    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    assert!(!store
        .is_member(&team_id(), &ChannelId::from("C9"), &UserId::from("U1"))
        .await
        .unwrap());
}

pub async fn messages_round_trip_update_delete(store: Arc<dyn Store>) {
    let mut posted = message("C1", 1_000, "U1");
    posted.subtype = Some("bot_message".to_owned());
    posted.bot_id = Some(BotId::from("B1"));
    posted.extra.insert("username".to_owned(), json!("deploy"));
    posted
        .extra
        .insert("blocks".to_owned(), json!([{"type": "divider"}]));
    commit_ok(
        &store,
        vec![
            Write::InsertChannel(channel("C1", "general", ChannelKind::Public)),
            Write::InsertMessage(posted.clone()),
        ],
    )
    .await;

    assert_eq!(
        read_message(&store, "C1", 1_000).await,
        Some(posted.clone())
    );
    assert_eq!(read_message(&store, "C1", 1_001).await, None);

    let mut edited = posted.clone();
    edited.text = "edited text".to_owned();
    edited.edited = Some(Edited {
        user: UserId::from("U1"),
        ts: Ts(2_000),
    });
    edited.extra.remove("blocks");
    commit_ok(&store, vec![Write::UpdateMessage(edited.clone())]).await;

    assert_eq!(read_message(&store, "C1", 1_000).await, Some(edited));

    commit_ok(&store, vec![delete_message("C1", 1_000)]).await;

    assert_eq!(read_message(&store, "C1", 1_000).await, None);
    assert_eq!(
        store
            .last_ts(&team_id(), &ChannelId::from("C1"))
            .await
            .unwrap(),
        None
    );
}

pub async fn failed_write_set_rolls_back_alone(store: Arc<dyn Store>) {
    commit_ok(
        &store,
        vec![
            Write::InsertChannel(channel("C1", "general", ChannelKind::Public)),
            Write::InsertMessage(message("C1", 100, "U1")),
            add_member("C1", "U1"),
            add_reaction("C1", 100, "eyes", "U1", 1),
        ],
    )
    .await;

    let results = store
        .commit(vec![
            vec![Write::InsertChannel(channel(
                "C2",
                "general",
                ChannelKind::Public,
            ))],
            vec![Write::InsertChannel(channel(
                "C3",
                "random",
                ChannelKind::Public,
            ))],
            vec![add_member("C3", "U2"), add_member("C1", "U1")],
            vec![add_reaction("C1", 100, "eyes", "U1", 2)],
            vec![add_reaction("C1", 100, "eyes", "U2", 3)],
        ])
        .await;

    assert!(
        matches!(results[0], Err(StoreError::Conflict(_))),
        "duplicate channel name: {:?}",
        results[0]
    );
    assert_eq!(results[1], Ok(()));
    assert!(
        matches!(results[2], Err(StoreError::Conflict(_))),
        "duplicate member: {:?}",
        results[2]
    );
    assert!(
        matches!(results[3], Err(StoreError::Conflict(_))),
        "duplicate reaction: {:?}",
        results[3]
    );
    assert_eq!(results[4], Ok(()));
    assert_eq!(results.len(), 5);

    assert_eq!(
        store
            .channel(&team_id(), &ChannelId::from("C2"))
            .await
            .unwrap(),
        None
    );
    assert!(store
        .channel(&team_id(), &ChannelId::from("C3"))
        .await
        .unwrap()
        .is_some());
    assert!(
        !store
            .is_member(&team_id(), &ChannelId::from("C3"), &UserId::from("U2"))
            .await
            .unwrap(),
        "the member added before the conflict in the same set is rolled back"
    );
    let reactions = read_message(&store, "C1", 100).await.unwrap().reactions;
    assert_eq!(reactions, vec![reaction("eyes", &["U1", "U2"])]);
}

pub async fn missing_rows_are_not_found(store: Arc<dyn Store>) {
    commit_ok(
        &store,
        vec![
            Write::InsertChannel(channel("C1", "general", ChannelKind::Public)),
            Write::InsertMessage(message("C1", 100, "U1")),
        ],
    )
    .await;

    let cases = vec![
        (
            "update missing message",
            Write::UpdateMessage(message("C1", 999, "U1")),
        ),
        ("delete missing message", delete_message("C1", 999)),
        (
            "reply to missing parent",
            Write::InsertMessage(reply("C1", 200, 150, "U1")),
        ),
        (
            "react to missing message",
            add_reaction("C1", 999, "eyes", "U1", 1),
        ),
        (
            "remove missing reaction",
            remove_reaction("C1", 100, "eyes", "U1"),
        ),
        (
            "remove non-member",
            Write::RemoveMember {
                team_id: team_id(),
                channel_id: ChannelId::from("C1"),
                user_id: UserId::from("U1"),
            },
        ),
    ];
    for (case, write) in cases {
        let result = commit_set(&store, vec![write]).await;
        assert!(
            matches!(result, Err(StoreError::NotFound(_))),
            "{case}: {result:?}"
        );
    }
    assert_eq!(
        read_message(&store, "C1", 200).await,
        None,
        "the orphan reply was rolled back"
    );
}

pub async fn thread_counts_follow_replies(store: Arc<dyn Store>) {
    with_messages(&store, &[100, 400]).await;
    commit_ok(
        &store,
        vec![
            Write::InsertMessage(reply("C1", 200, 100, "U2")),
            Write::InsertMessage(reply("C1", 300, 100, "U3")),
        ],
    )
    .await;

    let parent = read_message(&store, "C1", 100).await.unwrap();
    assert_eq!(parent.thread_ts, Some(Ts(100)));
    assert_eq!(parent.reply_count, Some(2));
    assert_eq!(parent.latest_reply, Some(Ts(300)));
    assert_eq!(parent.parent_user_id, None);

    let second = read_message(&store, "C1", 300).await.unwrap();
    assert_eq!(second.thread_ts, Some(Ts(100)));
    assert_eq!(second.parent_user_id, Some(UserId::from("U1")));
    assert_eq!(second.reply_count, None);
    assert_eq!(second.latest_reply, None);

    let plain = read_message(&store, "C1", 400).await.unwrap();
    assert_eq!(plain.reply_count, None);
    assert_eq!(plain.thread_ts, None);

    commit_ok(&store, vec![delete_message("C1", 300)]).await;
    let parent = read_message(&store, "C1", 100).await.unwrap();
    assert_eq!(parent.reply_count, Some(1));
    assert_eq!(parent.latest_reply, Some(Ts(200)));

    commit_ok(&store, vec![delete_message("C1", 200)]).await;
    let parent = read_message(&store, "C1", 100).await.unwrap();
    assert_eq!(parent.thread_ts, None);
    assert_eq!(parent.reply_count, None);
    assert_eq!(parent.latest_reply, None);
}

pub async fn deleting_older_reply_keeps_latest(store: Arc<dyn Store>) {
    with_messages(&store, &[100]).await;
    commit_ok(
        &store,
        vec![
            Write::InsertMessage(reply("C1", 200, 100, "U2")),
            Write::InsertMessage(reply("C1", 300, 100, "U2")),
        ],
    )
    .await;

    commit_ok(&store, vec![delete_message("C1", 200)]).await;

    let parent = read_message(&store, "C1", 100).await.unwrap();
    assert_eq!(parent.reply_count, Some(1));
    assert_eq!(parent.latest_reply, Some(Ts(300)));
    assert_eq!(parent.thread_ts, Some(Ts(100)));
}

pub async fn reply_to_reply_is_rejected(store: Arc<dyn Store>) {
    with_messages(&store, &[100]).await;
    commit_ok(
        &store,
        vec![Write::InsertMessage(reply("C1", 200, 100, "U2"))],
    )
    .await;

    let nested = commit_set(
        &store,
        vec![Write::InsertMessage(reply("C1", 300, 200, "U2"))],
    )
    .await;

    assert!(matches!(nested, Err(StoreError::NotFound(_))), "{nested:?}");
    assert_eq!(
        read_message(&store, "C1", 100).await.unwrap().reply_count,
        Some(1)
    );
    assert_eq!(
        history_ts(&store, everything()).await,
        vec![100],
        "the reply did not become a parent"
    );
}

pub async fn empty_channel_history_is_empty(store: Arc<dyn Store>) {
    with_messages(&store, &[]).await;

    assert!(history_ts(&store, everything()).await.is_empty());
    assert!(replies_ts(&store, 100, everything()).await.is_empty());
    assert_eq!(
        store
            .last_ts(&team_id(), &ChannelId::from("C1"))
            .await
            .unwrap(),
        None
    );
}

pub async fn history_limit_and_order(store: Arc<dyn Store>) {
    with_messages(&store, &[10, 20, 30, 40, 50]).await;

    assert_eq!(
        history_ts(&store, range(None, None, false, 5)).await,
        vec![50, 40, 30, 20, 10]
    );
    assert_eq!(
        history_ts(&store, range(None, None, false, 6)).await,
        vec![50, 40, 30, 20, 10]
    );
    assert_eq!(
        history_ts(&store, range(None, None, false, 3)).await,
        vec![50, 40, 30]
    );
    assert!(history_ts(&store, range(None, None, false, 0))
        .await
        .is_empty());
}

pub async fn history_bounds_inclusive_and_exclusive(store: Arc<dyn Store>) {
    with_messages(&store, &[10, 20, 30, 40, 50]).await;

    assert_eq!(
        history_ts(&store, range(Some(30), None, false, 10)).await,
        vec![20, 10]
    );
    assert_eq!(
        history_ts(&store, range(Some(30), None, true, 10)).await,
        vec![30, 20, 10]
    );
    assert_eq!(
        history_ts(&store, range(None, Some(20), false, 10)).await,
        vec![50, 40, 30]
    );
    assert_eq!(
        history_ts(&store, range(None, Some(20), true, 10)).await,
        vec![50, 40, 30, 20]
    );
    assert_eq!(
        history_ts(&store, range(Some(40), Some(20), false, 10)).await,
        vec![30]
    );
    assert_eq!(
        history_ts(&store, range(Some(40), Some(20), true, 10)).await,
        vec![40, 30, 20]
    );
    assert_eq!(
        history_ts(&store, range(Some(40), Some(20), true, 2)).await,
        vec![40, 30]
    );
    assert!(history_ts(&store, range(Some(30), Some(30), false, 10))
        .await
        .is_empty());
    assert_eq!(
        history_ts(&store, range(Some(30), Some(30), true, 10)).await,
        vec![30]
    );
    assert_eq!(
        history_ts(&store, range(Some(u64::MAX), None, false, 10)).await,
        vec![50, 40, 30, 20, 10],
        "a latest bound beyond i64 still covers every message"
    );
}

pub async fn history_leaves_replies_out(store: Arc<dyn Store>) {
    with_messages(&store, &[100, 300]).await;
    commit_ok(
        &store,
        vec![
            Write::InsertMessage(reply("C1", 200, 100, "U2")),
            Write::InsertMessage(reply("C1", 400, 100, "U2")),
        ],
    )
    .await;

    assert_eq!(history_ts(&store, everything()).await, vec![300, 100]);
    assert_eq!(
        history_ts(&store, range(None, None, false, 1)).await,
        vec![300]
    );
    assert_eq!(
        store
            .last_ts(&team_id(), &ChannelId::from("C1"))
            .await
            .unwrap(),
        Some(Ts(400)),
        "last_ts counts replies"
    );
}

pub async fn replies_in_order_with_range(store: Arc<dyn Store>) {
    with_messages(&store, &[100, 150]).await;
    commit_ok(
        &store,
        vec![
            Write::InsertMessage(reply("C1", 200, 100, "U2")),
            Write::InsertMessage(reply("C1", 300, 100, "U3")),
            Write::InsertMessage(reply("C1", 400, 100, "U2")),
        ],
    )
    .await;

    assert_eq!(
        replies_ts(&store, 100, everything()).await,
        vec![100, 200, 300, 400]
    );
    assert_eq!(
        replies_ts(&store, 100, range(None, None, true, 2)).await,
        vec![100, 200]
    );
    assert_eq!(
        replies_ts(&store, 100, range(None, Some(100), false, 10)).await,
        vec![200, 300, 400]
    );
    assert_eq!(
        replies_ts(&store, 100, range(Some(300), Some(200), true, 10)).await,
        vec![200, 300]
    );
    assert_eq!(
        replies_ts(&store, 150, everything()).await,
        vec![150],
        "a message without replies"
    );

    let thread = store
        .replies(&team_id(), &ChannelId::from("C1"), Ts(100), everything())
        .await
        .unwrap();
    assert_eq!(thread[0].parent_user_id, None);
    assert_eq!(thread[0].channel, ChannelId::from("C1"));
    assert!(thread[1..]
        .iter()
        .all(|reply| reply.parent_user_id == Some(UserId::from("U1"))));
}

pub async fn reactions_grouped_in_added_order(store: Arc<dyn Store>) {
    with_messages(&store, &[100]).await;
    commit_ok(
        &store,
        vec![
            add_reaction("C1", 100, "eyes", "U3", 40),
            add_reaction("C1", 100, "thumbsup", "U2", 10),
            add_reaction("C1", 100, "eyes", "U1", 20),
            add_reaction("C1", 100, "thumbsup", "U1", 30),
        ],
    )
    .await;

    let reactions = read_message(&store, "C1", 100).await.unwrap().reactions;
    assert_eq!(
        reactions,
        vec![
            reaction("thumbsup", &["U2", "U1"]),
            reaction("eyes", &["U1", "U3"])
        ]
    );

    commit_ok(&store, vec![remove_reaction("C1", 100, "thumbsup", "U2")]).await;

    let reactions = read_message(&store, "C1", 100).await.unwrap().reactions;
    assert_eq!(
        reactions,
        vec![
            reaction("eyes", &["U1", "U3"]),
            reaction("thumbsup", &["U1"])
        ],
        "thumbsup now first appears at 30, after eyes at 20"
    );
}

pub async fn reactions_appear_in_history_and_replies(store: Arc<dyn Store>) {
    with_messages(&store, &[100]).await;
    commit_ok(
        &store,
        vec![
            Write::InsertMessage(reply("C1", 200, 100, "U2")),
            add_reaction("C1", 100, "tada", "U2", 1),
            add_reaction("C1", 200, "eyes", "U1", 2),
        ],
    )
    .await;

    let history = store
        .history(&team_id(), &ChannelId::from("C1"), everything())
        .await
        .unwrap();
    assert_eq!(history[0].reactions, vec![reaction("tada", &["U2"])]);
    assert_eq!(history[0].channel, ChannelId::from("C1"));

    let thread = store
        .replies(&team_id(), &ChannelId::from("C1"), Ts(100), everything())
        .await
        .unwrap();
    assert_eq!(thread[0].reactions, vec![reaction("tada", &["U2"])]);
    assert_eq!(thread[1].reactions, vec![reaction("eyes", &["U1"])]);
}

pub async fn deleted_message_loses_reactions(store: Arc<dyn Store>) {
    with_messages(&store, &[100]).await;
    commit_ok(&store, vec![add_reaction("C1", 100, "eyes", "U1", 1)]).await;

    commit_ok(
        &store,
        vec![
            delete_message("C1", 100),
            Write::InsertMessage(message("C1", 100, "U1")),
        ],
    )
    .await;

    let reposted = read_message(&store, "C1", 100).await.unwrap();
    assert!(reposted.reactions.is_empty(), "{:?}", reposted.reactions);
}

/// Channels C1 to C5 and D1 with members, for the filter tests. U1 is in C1,
/// C3 and D1; U2 is in C4 and D1; nobody is in C2 or C5.
async fn with_channel_mix(store: &Arc<dyn Store>) {
    let mut archived = channel("C5", "old", ChannelKind::Public);
    archived.is_archived = true;
    commit_ok(
        store,
        vec![
            Write::InsertChannel(channel("C1", "general", ChannelKind::Public)),
            Write::InsertChannel(channel("C2", "random", ChannelKind::Public)),
            Write::InsertChannel(channel("C3", "secret", ChannelKind::Private)),
            Write::InsertChannel(channel("C4", "hidden", ChannelKind::Private)),
            Write::InsertChannel(archived),
            Write::InsertChannel(channel("D1", "U1-U2", ChannelKind::Im)),
            add_member("C1", "U1"),
            add_member("C3", "U1"),
            add_member("C4", "U2"),
            add_member("D1", "U1"),
            add_member("D1", "U2"),
        ],
    )
    .await;
}

fn filter(
    kinds: &[ChannelKind],
    viewer: &str,
    only_member: bool,
    exclude_archived: bool,
) -> ChannelFilter {
    ChannelFilter {
        kinds: kinds.to_vec(),
        exclude_archived,
        viewer: UserId::from(viewer),
        only_member,
    }
}

const ALL_KINDS: &[ChannelKind] = &[
    ChannelKind::Public,
    ChannelKind::Private,
    ChannelKind::Im,
    ChannelKind::Mpim,
];

pub async fn channel_filter_hides_private_channels(store: Arc<dyn Store>) {
    with_channel_mix(&store).await;
    let list = |filter: ChannelFilter| {
        let store = &store;
        async move {
            store
                .channels(&team_id(), &filter, page(None, 100))
                .await
                .unwrap()
        }
    };

    assert_eq!(
        channel_ids(&list(filter(ALL_KINDS, "U1", false, false)).await),
        vec!["C1", "C2", "C3", "C5", "D1"]
    );
    assert_eq!(
        channel_ids(&list(filter(ALL_KINDS, "U3", false, false)).await),
        vec!["C1", "C2", "C5"],
        "a non-member sees public channels only"
    );
    assert_eq!(
        channel_ids(&list(filter(ALL_KINDS, "U1", true, false)).await),
        vec!["C1", "C3", "D1"]
    );
    assert_eq!(
        channel_ids(&list(filter(ALL_KINDS, "U1", false, true)).await),
        vec!["C1", "C2", "C3", "D1"]
    );
    assert_eq!(
        channel_ids(&list(filter(&[ChannelKind::Private], "U2", false, false)).await),
        vec!["C4"]
    );
    assert_eq!(
        channel_ids(
            &list(filter(
                &[ChannelKind::Im, ChannelKind::Mpim],
                "U2",
                false,
                false
            ))
            .await
        ),
        vec!["D1"]
    );
    assert!(list(filter(&[], "U1", false, false)).await.is_empty());
}

pub async fn channel_page_after_is_exclusive(store: Arc<dyn Store>) {
    with_channel_mix(&store).await;
    let everything_for_u1 = filter(ALL_KINDS, "U1", false, false);

    let first = store
        .channels(&team_id(), &everything_for_u1, page(None, 2))
        .await
        .unwrap();
    assert_eq!(channel_ids(&first), vec!["C1", "C2"]);

    let second = store
        .channels(
            &team_id(),
            &everything_for_u1,
            page(Some(ChannelId::from("C2")), 2),
        )
        .await
        .unwrap();
    assert_eq!(channel_ids(&second), vec!["C3", "C5"]);
}

pub async fn concurrent_reads_during_commits(store: Arc<dyn Store>) {
    with_messages(&store, &[1]).await;

    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(in_this_team(async move {
            for ts in 2..=50u64 {
                commit_ok(&store, vec![Write::InsertMessage(message("C1", ts, "U1"))]).await;
            }
        }))
    };
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(in_this_team(async move {
                for _ in 0..20 {
                    let page = history_ts(&store, range(None, None, false, 10)).await;
                    assert!(!page.is_empty(), "the first message is always visible");
                    assert!(
                        page.windows(2).all(|pair| pair[0] > pair[1]),
                        "newest first: {page:?}"
                    );
                }
            }))
        })
        .collect();

    writer.await.expect("writer task");
    for reader in readers {
        reader.await.expect("reader task");
    }
    assert_eq!(
        store
            .last_ts(&team_id(), &ChannelId::from("C1"))
            .await
            .unwrap(),
        Some(Ts(50))
    );
}

pub async fn empty_batch_returns_no_results(store: Arc<dyn Store>) {
    assert!(store.commit(Vec::new()).await.is_empty());
    assert_eq!(store.commit(vec![Vec::new()]).await, vec![Ok(())]);
}

pub async fn job_outbox_relay_cycle(store: Arc<dyn Store>) {
    let job = Job::new(
        team_id(),
        &JobPayload::MessagePost {
            channel_id: ChannelId::from("C1"),
            ts: Ts(10),
        },
    );
    commit_ok(
        &store,
        vec![
            Write::InsertChannel(channel("C1", "general", ChannelKind::Public)),
            Write::InsertMessage(message("C1", 10, "U1")),
            Write::InsertJob(job.clone()),
        ],
    )
    .await;
    let unsent_here = |jobs: Vec<Job>| -> Vec<Job> {
        jobs.into_iter()
            .filter(|j| j.team_id == team_id())
            .collect()
    };
    assert_eq!(
        unsent_here(store.unsent_jobs(100_000).await.unwrap()),
        vec![job.clone()]
    );

    let mark_sent = || Write::MarkJobSent {
        team_id: team_id(),
        job_id: job.id.clone(),
    };
    commit_ok(&store, vec![mark_sent()]).await;
    assert!(unsent_here(store.unsent_jobs(100_000).await.unwrap()).is_empty());
    // A second relay that published the same job marks it again harmlessly.
    commit_ok(&store, vec![mark_sent()]).await;
    assert!(unsent_here(store.unsent_jobs(100_000).await.unwrap()).is_empty());

    let finish = || Write::FinishJob {
        team_id: team_id(),
        job_id: job.id.clone(),
    };
    assert!(!store.is_job_done(&team_id(), &job.id).await.unwrap());
    commit_ok(&store, vec![finish()]).await;
    assert!(store.is_job_done(&team_id(), &job.id).await.unwrap());
    assert!(!store.is_job_done(&other_team_id(), &job.id).await.unwrap());
    // A second delivery conflicts and rolls back the handler's other writes.
    let second = commit_set(
        &store,
        vec![Write::InsertMessage(message("C1", 11, "U1")), finish()],
    )
    .await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
    assert_eq!(read_message(&store, "C1", 11).await, None);

    for (attempts, error) in [(3, "first death"), (5, "last death")] {
        let dead = DeadJob {
            job: job.clone(),
            attempts,
            error: error.into(),
            died: Ts(100 + u64::from(attempts)),
        };
        commit_ok(&store, vec![Write::InsertDeadJob(dead)]).await;
    }
    let dead = store.dead_jobs(&team_id()).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0].attempts, dead[0].error.as_str()),
        (5, "last death")
    );
    assert_eq!(dead[0].job, job);

    let topic = format!("conformance-{}", team_id());
    assert_eq!(store.queue_offset(&topic, 3).await.unwrap(), None);
    for offset in [7, 42] {
        let write = Write::SetQueueOffset {
            topic: topic.clone(),
            partition: 3,
            offset,
        };
        commit_ok(&store, vec![write]).await;
    }
    assert_eq!(store.queue_offset(&topic, 3).await.unwrap(), Some(42));
    assert_eq!(store.queue_offset(&topic, 4).await.unwrap(), None);
}

pub async fn muted_channels_replace_and_clear(store: Arc<dyn Store>) {
    let set = |user: &str, channels: &[&str]| Write::SetMutedChannels {
        team_id: team_id(),
        user_id: UserId::from(user),
        channels: channels.iter().map(|c| ChannelId::from(*c)).collect(),
    };
    let muted = |user: &'static str| {
        let store = store.clone();
        async move {
            let channels = store
                .muted_channels(&team_id(), &UserId::from(user))
                .await
                .unwrap();
            channels.into_iter().map(|c| c.0).collect::<Vec<String>>()
        }
    };
    assert!(muted("U1").await.is_empty());

    // A repeated id is stored once; the list comes back ordered by id.
    commit_ok(&store, vec![set("U1", &["C2", "C1", "C2"])]).await;
    commit_ok(&store, vec![set("U2", &["C3"])]).await;
    assert_eq!(muted("U1").await, vec!["C1", "C2"]);

    // A new list replaces the old one, and each member keeps their own.
    commit_ok(&store, vec![set("U1", &["C3"])]).await;
    assert_eq!(muted("U1").await, vec!["C3"]);
    assert_eq!(muted("U2").await, vec!["C3"]);
    let other = store
        .muted_channels(&other_team_id(), &UserId::from("U1"))
        .await
        .unwrap();
    assert!(other.is_empty(), "{other:?}");

    commit_ok(&store, vec![set("U1", &[])]).await;
    assert!(muted("U1").await.is_empty());
}

pub async fn read_states_count_and_mark(store: Arc<dyn Store>) {
    let count = |ts: u64, mentioned: &[&str]| Write::CountUnread {
        team_id: team_id(),
        channel_id: ChannelId::from("C1"),
        ts: Ts(ts),
        recipients: vec![UserId::from("U2"), UserId::from("U3")],
        mentioned: mentioned.iter().map(|u| UserId::from(*u)).collect(),
    };
    commit_ok(
        &store,
        vec![Write::InsertChannel(channel(
            "C1",
            "general",
            ChannelKind::Public,
        ))],
    )
    .await;
    for (ts, mentioned) in [(10, &[][..]), (20, &["U2"][..]), (30, &[][..])] {
        commit_ok(
            &store,
            vec![
                Write::InsertMessage(message("C1", ts, "U1")),
                count(ts, mentioned),
            ],
        )
        .await;
    }
    let state = |user: &'static str| {
        let store = store.clone();
        async move {
            store
                .read_state(&team_id(), &ChannelId::from("C1"), &UserId::from(user))
                .await
                .unwrap()
        }
    };
    let expected = |last_read: u64, unread_count: u32, mention_count: u32| ReadState {
        last_read: Ts(last_read),
        unread_count,
        mention_count,
    };
    assert_eq!(state("U2").await, Some(expected(0, 3, 1)));
    assert_eq!(state("U3").await, Some(expected(0, 3, 0)));
    assert_eq!(state("U1").await, None);

    let mark = Write::MarkRead {
        team_id: team_id(),
        channel_id: ChannelId::from("C1"),
        user_id: UserId::from("U2"),
        ts: Ts(20),
    };
    commit_ok(&store, vec![mark]).await;
    assert_eq!(state("U2").await, Some(expected(20, 1, 1)));

    // A late count for a message at or before the read position changes nothing.
    commit_ok(&store, vec![count(15, &["U2"])]).await;
    assert_eq!(state("U2").await, Some(expected(20, 1, 1)));
    assert_eq!(state("U3").await, Some(expected(0, 4, 0)));
}

fn file(id: &str, user_id: &str, mimetype: &str, created: u64) -> File {
    File {
        id: FileId::from(id),
        team_id: team_id(),
        user: UserId::from(user_id),
        name: format!("{id}.bin"),
        title: format!("File {id} \u{1F4CE}"),
        mimetype: mimetype.into(),
        filetype: "binary".into(),
        size: 3,
        sha256: Some("ab".repeat(32)),
        state: FileState::Complete,
        upload_hash: String::new(),
        created: Ts(created),
    }
}

pub async fn webhooks_round_trip_and_revoke(store: Arc<dyn Store>) {
    let webhook = Webhook {
        team_id: team_id(),
        id: WebhookId::from("B1"),
        secret_hash: "cd".repeat(32),
        channel_id: ChannelId::from("C1"),
        bot_user: UserId::from("U9"),
        created_by: UserId::from("U1"),
        created: Ts(1_000),
        revoked: false,
    };
    commit_ok(&store, vec![Write::InsertWebhook(webhook.clone())]).await;
    assert_eq!(
        store.webhook(&team_id(), &webhook.id).await.unwrap(),
        Some(webhook.clone())
    );
    assert_eq!(
        store.webhook(&other_team_id(), &webhook.id).await.unwrap(),
        None
    );
    let duplicate = commit_set(&store, vec![Write::InsertWebhook(webhook.clone())]).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );

    let revoke = |id: &str| Write::RevokeWebhook {
        team_id: team_id(),
        id: WebhookId::from(id),
    };
    commit_ok(&store, vec![revoke("B1")]).await;
    let stored = store.webhook(&team_id(), &webhook.id).await.unwrap();
    assert!(stored.is_some_and(|w| w.revoked));
    let missing = commit_set(&store, vec![revoke("B2")]).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

pub async fn files_share_list_and_delete(store: Arc<dyn Store>) {
    commit_ok(
        &store,
        vec![
            Write::InsertChannel(channel("C1", "files", ChannelKind::Public)),
            add_member("C1", "U1"),
            add_member("C1", "U2"),
        ],
    )
    .await;
    let image = file("F1", "U1", "image/png", 100);
    let text = file("F2", "U1", "text/plain", 200);
    let private = file("F3", "U3", "image/png", 300);
    for f in [&image, &text, &private] {
        commit_ok(&store, vec![Write::InsertFile(f.clone())]).await;
    }
    let duplicate = commit_set(&store, vec![Write::InsertFile(image.clone())]).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );

    let mut renamed = text.clone();
    renamed.title = "Renamed".into();
    commit_ok(&store, vec![Write::UpdateFile(renamed.clone())]).await;
    assert_eq!(
        store.file(&team_id(), &text.id).await.unwrap(),
        Some(renamed.clone())
    );
    let gone = commit_set(&store, vec![Write::UpdateFile(file("F9", "U1", "a/b", 1))]).await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");

    let share = |file_id: &str, ts: u64| FileShare {
        team_id: team_id(),
        file_id: FileId::from(file_id),
        channel_id: ChannelId::from("C1"),
        ts: Ts(ts),
    };
    commit_ok(
        &store,
        vec![
            Write::InsertMessage(message("C1", 500, "U1")),
            Write::ShareFile(share("F1", 500)),
        ],
    )
    .await;
    let again = commit_set(&store, vec![Write::ShareFile(share("F1", 500))]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let unknown = commit_set(&store, vec![Write::ShareFile(share("F9", 500))]).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(
        store.file_shares(&team_id(), &image.id).await.unwrap(),
        vec![share("F1", 500)]
    );

    let list = |viewer: &str, kinds: Vec<FileKind>| {
        let store = store.clone();
        let filter = FileFilter {
            viewer: UserId::from(viewer),
            channel: None,
            user: None,
            kinds,
        };
        async move {
            let (files, total) = store.files(&team_id(), &filter, 0, 10).await.unwrap();
            let ids: Vec<String> = files.into_iter().map(|f| f.id.0).collect();
            (ids, total)
        }
    };
    // The uploader lists their files, newest first. A member of the channel
    // lists the shared one, and only U3 lists U3's unshared file.
    assert_eq!(
        list("U1", vec![]).await,
        (vec!["F2".into(), "F1".into()], 2)
    );
    assert_eq!(list("U2", vec![]).await, (vec!["F1".into()], 1));
    assert_eq!(
        list("U1", vec![FileKind::Images]).await,
        (vec!["F1".into()], 1)
    );
    assert_eq!(list("U3", vec![]).await, (vec!["F3".into()], 1));
    let (page, total) = store
        .files(
            &team_id(),
            &FileFilter {
                viewer: UserId::from("U1"),
                channel: Some(ChannelId::from("C1")),
                user: None,
                kinds: vec![],
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!((page, total), (vec![image.clone()], 1));

    let sha = image.sha256.clone().unwrap();
    assert_eq!(store.blob_references(&team_id(), &sha).await.unwrap(), 3);
    let delete = |file_id: &str| Write::DeleteFile {
        team_id: team_id(),
        file_id: FileId::from(file_id),
    };
    commit_ok(&store, vec![delete("F1")]).await;
    assert_eq!(store.file(&team_id(), &image.id).await.unwrap(), None);
    assert!(store
        .file_shares(&team_id(), &image.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.blob_references(&team_id(), &sha).await.unwrap(), 2);
    let twice = commit_set(&store, vec![delete("F1")]).await;
    assert!(matches!(twice, Err(StoreError::NotFound(_))), "{twice:?}");
}

pub async fn activity_days_and_billing_reports(store: Arc<dyn Store>) {
    let day = |text: &str| text.parse::<Day>().expect("a valid day");
    let active = |user: &str, date: &str| Write::RecordActivity {
        team_id: team_id(),
        day: day(date),
        user_id: UserId::from(user),
    };
    let june: Month = "2025-06".parse().unwrap();

    // U1 is active on two June days, one of them recorded twice. U2 is active
    // on the last day of June, and U3 only on the days around June. The other
    // team's U1 must not count.
    commit_ok(
        &store,
        vec![
            active("U1", "2025-06-01"),
            active("U1", "2025-06-15"),
            active("U2", "2025-06-30"),
            active("U3", "2025-05-31"),
            active("U3", "2025-07-01"),
        ],
    )
    .await;
    commit_ok(&store, vec![active("U1", "2025-06-15")]).await;
    commit_ok(
        &store,
        vec![Write::RecordActivity {
            team_id: other_team_id(),
            day: day("2025-06-02"),
            user_id: UserId::from("U1"),
        }],
    )
    .await;
    let member = |user: &str, active_days: u32| ActiveMember {
        user_id: UserId::from(user),
        active_days,
    };
    assert_eq!(
        store.active_members(&team_id(), june).await.unwrap(),
        vec![member("U1", 2), member("U2", 1)]
    );
    assert_eq!(
        store
            .active_members(&team_id(), june.previous())
            .await
            .unwrap(),
        vec![member("U3", 1)]
    );
    assert!(store
        .active_members(&team_id(), "2024-06".parse().unwrap())
        .await
        .unwrap()
        .is_empty());

    assert_eq!(store.billing_report(&team_id(), june).await.unwrap(), None);
    let report = |job_id: &str, computed: u64, members: Vec<ActiveMember>| BillingReport {
        team_id: team_id(),
        month: june,
        computed: Ts(computed),
        job_id: job_id.into(),
        members,
    };
    let first = report("J1", 1_000, vec![member("U1", 2)]);
    commit_ok(&store, vec![Write::PutBillingReport(first.clone())]).await;
    assert_eq!(
        store.billing_report(&team_id(), june).await.unwrap(),
        Some(first)
    );
    // A second computation of the month replaces the first.
    let second = report("J2", 2_000, vec![member("U1", 2), member("U2", 1)]);
    commit_ok(&store, vec![Write::PutBillingReport(second.clone())]).await;
    assert_eq!(
        store.billing_report(&team_id(), june).await.unwrap(),
        Some(second)
    );
    assert_eq!(
        store
            .billing_report(&team_id(), june.previous())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.billing_report(&other_team_id(), june).await.unwrap(),
        None
    );
}

fn reminder(id: &str, creator: &str, user_id: &str, time: i64) -> Reminder {
    Reminder {
        id: id.to_owned(),
        team_id: team_id(),
        creator: UserId::from(creator),
        user: UserId::from(user_id),
        text: format!("reminder {id} \u{23F0}"),
        time,
        complete_ts: 0,
        fired: false,
        created: Ts(1_000),
    }
}

pub async fn reminders_fire_complete_and_delete(store: Arc<dyn Store>) {
    // Due times far in the past, so that the scan across teams finds them
    // even in a database other cases' teams share.
    let own = reminder("RmA", "U1", "U1", 100);
    let for_other = reminder("RmB", "U1", "U2", 50);
    let later = reminder("RmC", "U2", "U2", 300);
    for r in [&own, &for_other, &later] {
        commit_ok(&store, vec![Write::InsertReminder(r.clone())]).await;
    }
    let duplicate = commit_set(&store, vec![Write::InsertReminder(own.clone())]).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    assert_eq!(
        store.reminder(&team_id(), "RmA").await.unwrap(),
        Some(own.clone())
    );
    assert_eq!(store.reminder(&other_team_id(), "RmA").await.unwrap(), None);

    // A user's list has what they created and what they receive, by due time.
    let ids =
        |reminders: Vec<Reminder>| -> Vec<String> { reminders.into_iter().map(|r| r.id).collect() };
    let user_list = |user: &str| {
        let store = store.clone();
        let user = UserId::from(user);
        async move { ids(store.user_reminders(&team_id(), &user).await.unwrap()) }
    };
    assert_eq!(user_list("U1").await, vec!["RmB", "RmA"]);
    assert_eq!(user_list("U2").await, vec!["RmB", "RmC"]);
    assert!(user_list("U3").await.is_empty());

    let due_here = |now: i64| {
        let store = store.clone();
        async move {
            let due = store.due_reminders(now, 100_000).await.unwrap();
            ids(due.into_iter().filter(|r| r.team_id == team_id()).collect())
        }
    };
    assert_eq!(due_here(100).await, vec!["RmB", "RmA"]);
    assert_eq!(due_here(1_000).await, vec!["RmB", "RmA", "RmC"]);

    // Firing happens once, and a fired reminder is no longer due.
    let fire = |id: &str| Write::FireReminder {
        team_id: team_id(),
        reminder_id: id.to_owned(),
    };
    commit_ok(&store, vec![fire("RmB")]).await;
    let twice = commit_set(&store, vec![fire("RmB")]).await;
    assert!(matches!(twice, Err(StoreError::NotFound(_))), "{twice:?}");
    assert!(store
        .reminder(&team_id(), "RmB")
        .await
        .unwrap()
        .is_some_and(|r| r.fired));
    assert_eq!(due_here(1_000).await, vec!["RmA", "RmC"]);

    // A failing fire rolls back the outbox job of its write set.
    let job = Job::new(
        team_id(),
        &JobPayload::Reminder {
            reminder_id: "RmB".into(),
        },
    );
    let rolled_back = commit_set(&store, vec![fire("RmB"), Write::InsertJob(job.clone())]).await;
    assert!(
        matches!(rolled_back, Err(StoreError::NotFound(_))),
        "{rolled_back:?}"
    );
    let unsent = store.unsent_jobs(100_000).await.unwrap();
    assert!(!unsent.iter().any(|j| j.id == job.id), "{unsent:?}");

    // A complete reminder is not due, cannot complete again and cannot fire.
    let complete = |id: &str| Write::CompleteReminder {
        team_id: team_id(),
        reminder_id: id.to_owned(),
        complete_ts: 1_700_000_000,
    };
    commit_ok(&store, vec![complete("RmA")]).await;
    let stored = store.reminder(&team_id(), "RmA").await.unwrap().unwrap();
    assert_eq!(stored.complete_ts, 1_700_000_000);
    let again = commit_set(&store, vec![complete("RmA")]).await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
    let fire_complete = commit_set(&store, vec![fire("RmA")]).await;
    assert!(
        matches!(fire_complete, Err(StoreError::NotFound(_))),
        "{fire_complete:?}"
    );
    assert_eq!(due_here(1_000).await, vec!["RmC"]);
    let missing = commit_set(&store, vec![complete("RmZ")]).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    let delete = |id: &str| Write::DeleteReminder {
        team_id: team_id(),
        reminder_id: id.to_owned(),
    };
    commit_ok(&store, vec![delete("RmC")]).await;
    assert_eq!(store.reminder(&team_id(), "RmC").await.unwrap(), None);
    assert!(due_here(1_000).await.is_empty());
    let gone = commit_set(&store, vec![delete("RmC")]).await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");
    assert_eq!(user_list("U2").await, vec!["RmB"]);
}

/// Expands to one `#[tokio::test]` per conformance case. `$open` is an async
/// function returning a fresh `Arc<dyn Store>` for each case. With
/// `ignore = "reason"`, every generated test is marked `#[ignore]`.
#[macro_export]
macro_rules! store_conformance_tests {
    (open = $open:path) => {
        $crate::store_conformance_tests!(@plain $open; users_round_trip_and_update, users_page_after_is_exclusive, user_name_conflicts_and_missing_user, tokens_round_trip, channels_round_trip_and_update, channel_names_are_unique_per_team, members_round_trip, member_of_missing_channel_is_not_found, messages_round_trip_update_delete, failed_write_set_rolls_back_alone, missing_rows_are_not_found, thread_counts_follow_replies, deleting_older_reply_keeps_latest, reply_to_reply_is_rejected, empty_channel_history_is_empty, history_limit_and_order, history_bounds_inclusive_and_exclusive, history_leaves_replies_out, replies_in_order_with_range, reactions_grouped_in_added_order, reactions_appear_in_history_and_replies, deleted_message_loses_reactions, channel_filter_hides_private_channels, channel_page_after_is_exclusive, concurrent_reads_during_commits, empty_batch_returns_no_results, teams_round_trip_oldest_first, long_and_emoji_text_round_trips, batch_of_longest_messages_commits, batch_of_posts_keeps_each_result, concurrent_writers_on_one_channel, history_exactly_one_page, archived_channel_round_trip, rewriting_equal_values_is_not_missing, job_outbox_relay_cycle, read_states_count_and_mark, webhooks_round_trip_and_revoke, files_share_list_and_delete, activity_days_and_billing_reports, reminders_fire_complete_and_delete, muted_channels_replace_and_clear);
    };
    (open = $open:path, ignore = $reason:literal) => {
        $crate::store_conformance_tests!(@ignored $reason, $open; users_round_trip_and_update, users_page_after_is_exclusive, user_name_conflicts_and_missing_user, tokens_round_trip, channels_round_trip_and_update, channel_names_are_unique_per_team, members_round_trip, member_of_missing_channel_is_not_found, messages_round_trip_update_delete, failed_write_set_rolls_back_alone, missing_rows_are_not_found, thread_counts_follow_replies, deleting_older_reply_keeps_latest, reply_to_reply_is_rejected, empty_channel_history_is_empty, history_limit_and_order, history_bounds_inclusive_and_exclusive, history_leaves_replies_out, replies_in_order_with_range, reactions_grouped_in_added_order, reactions_appear_in_history_and_replies, deleted_message_loses_reactions, channel_filter_hides_private_channels, channel_page_after_is_exclusive, concurrent_reads_during_commits, empty_batch_returns_no_results, teams_round_trip_oldest_first, long_and_emoji_text_round_trips, batch_of_longest_messages_commits, batch_of_posts_keeps_each_result, concurrent_writers_on_one_channel, history_exactly_one_page, archived_channel_round_trip, rewriting_equal_values_is_not_missing, job_outbox_relay_cycle, read_states_count_and_mark, webhooks_round_trip_and_revoke, files_share_list_and_delete, activity_days_and_billing_reports, reminders_fire_complete_and_delete, muted_channels_replace_and_clear);
    };
    (@plain $open:path; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::store::conformance::run_case($open().await, $crate::store::conformance::$case).await;
            }
        )*
    };
    (@ignored $reason:literal, $open:path; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = $reason]
            async fn $case() {
                $crate::store::conformance::run_case($open().await, $crate::store::conformance::$case).await;
            }
        )*
    };
}
