//! Tests of [`SqliteStore`] against real database files in temporary
//! directories.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::json;
use switchboard_actors::domain::{
    Channel, ChannelKind, Edited, Message, Profile, ReactionSummary, Role, Team, Token, TokenKind,
    TopicInfo, User,
};
use switchboard_actors::ids::{BotId, ChannelId, TeamId, UserId};
use switchboard_actors::ports::{ChannelFilter, HistoryRange, Page, Store, StoreError, Write};
use switchboard_actors::ts::Ts;
use tempfile::TempDir;

use super::SqliteStore;

/// Returns the team most tests write to.
fn team_id() -> TeamId {
    TeamId::from("T1")
}

/// Opens a store in a fresh temporary directory. The directory is deleted when the
/// returned `TempDir` drops, so tests keep it alive alongside the store.
fn open_store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let store = SqliteStore::open(&database_path(&dir), false).expect("open the store");
    (dir, store)
}

fn database_path(dir: &TempDir) -> PathBuf {
    dir.path().join("switchboard.sqlite")
}

/// Returns the version of every migration this binary contains.
fn all_versions() -> Vec<u32> {
    super::migrations::MIGRATIONS
        .iter()
        .map(|(version, _)| *version)
        .collect()
}

#[test]
fn migrations_are_listed_in_ascending_order() {
    let versions = all_versions();
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "{versions:?}"
    );
    assert_eq!(
        super::migrations::latest_version(),
        *versions.last().unwrap()
    );
}

/// Returns the versions recorded in `schema_migrations`, read through a
/// connection of its own.
fn recorded_versions(path: &Path) -> Vec<u32> {
    let connection = Connection::open(path).expect("open the database directly");
    let mut statement = connection
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .expect("prepare");
    statement
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("read versions")
}

fn team(id: &str, created: u64) -> Team {
    Team {
        id: TeamId::from(id),
        name: format!("Team {id}"),
        domain: id.to_lowercase(),
        created: Ts(created),
    }
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
async fn commit_set(store: &SqliteStore, writes: Vec<Write>) -> Result<(), StoreError> {
    let mut results = store.commit(vec![writes]).await;
    assert_eq!(results.len(), 1, "one result per write set");
    results.remove(0)
}

/// Commits one write set that must succeed.
async fn commit_ok(store: &SqliteStore, writes: Vec<Write>) {
    commit_set(store, writes).await.expect("write set commits");
}

async fn history_ts(store: &SqliteStore, range: HistoryRange) -> Vec<u64> {
    store
        .history(&team_id(), &ChannelId::from("C1"), range)
        .await
        .expect("read history")
        .iter()
        .map(|message| message.ts.0)
        .collect()
}

async fn replies_ts(store: &SqliteStore, thread_ts: u64, range: HistoryRange) -> Vec<u64> {
    store
        .replies(&team_id(), &ChannelId::from("C1"), Ts(thread_ts), range)
        .await
        .expect("read replies")
        .iter()
        .map(|message| message.ts.0)
        .collect()
}

async fn read_message(store: &SqliteStore, channel_id: &str, ts: u64) -> Option<Message> {
    store
        .message(&team_id(), &ChannelId::from(channel_id), Ts(ts))
        .await
        .expect("read message")
}

/// Opens a store with channel C1 and the messages at the given `ts` values, all by U1.
async fn store_with_messages(timestamps: &[u64]) -> (TempDir, SqliteStore) {
    let (dir, store) = open_store();
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
    commit_ok(&store, writes).await;
    (dir, store)
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

#[tokio::test]
async fn open_creates_file_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("nested")
        .join("deeper")
        .join("switchboard.sqlite");

    let store = SqliteStore::open(&path, true).expect("open creates missing directories");

    assert!(path.is_file(), "database file exists at {}", path.display());
    assert_eq!(store.path(), path);
    assert_eq!(recorded_versions(&path), all_versions());
}

#[tokio::test]
async fn reopen_applies_no_migration_twice() {
    let (dir, store) = open_store();
    commit_ok(&store, vec![Write::InsertTeam(team("T1", 1))]).await;
    drop(store);

    let reopened = SqliteStore::open(&database_path(&dir), false).expect("reopen");

    assert_eq!(recorded_versions(&database_path(&dir)), all_versions());
    assert_eq!(reopened.teams().await.unwrap(), vec![team("T1", 1)]);
}

#[tokio::test]
async fn newer_schema_version_is_rejected() {
    let (dir, store) = open_store();
    drop(store);
    let path = database_path(&dir);
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)",
            [],
        )
        .unwrap();

    let error = SqliteStore::open(&path, false).expect_err("a newer schema must not open");

    let StoreError::Backend(detail) = error else {
        panic!("expected Backend, got {error:?}");
    };
    assert!(detail.contains("schema version 99"), "{detail}");
    let latest = super::migrations::latest_version();
    assert!(detail.contains(&format!("up to {latest}")), "{detail}");
}

#[tokio::test]
async fn teams_round_trip_oldest_first() {
    let (_dir, store) = open_store();
    commit_ok(
        &store,
        vec![
            Write::InsertTeam(team("T2", 20)),
            Write::InsertTeam(team("T1", 10)),
        ],
    )
    .await;

    assert_eq!(
        store.team(&TeamId::from("T2")).await.unwrap(),
        Some(team("T2", 20))
    );
    assert_eq!(store.team(&TeamId::from("T9")).await.unwrap(), None);
    assert_eq!(
        store.teams().await.unwrap(),
        vec![team("T1", 10), team("T2", 20)]
    );
    assert!(matches!(
        commit_set(&store, vec![Write::InsertTeam(team("T1", 30))]).await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn users_round_trip_and_update() {
    let (_dir, store) = open_store();
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
            .user(&TeamId::from("T2"), &UserId::from("U1"))
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

#[tokio::test]
async fn users_page_after_is_exclusive() {
    let (_dir, store) = open_store();
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

#[tokio::test]
async fn user_name_conflicts_and_missing_user() {
    let (_dir, store) = open_store();
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

#[tokio::test]
async fn tokens_round_trip() {
    let (_dir, store) = open_store();
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
        store.token(&TeamId::from("T2"), &token.hash).await.unwrap(),
        None
    );
    assert_eq!(store.token(&team_id(), "cd").await.unwrap(), None);
    let duplicate = commit_set(&store, vec![Write::InsertToken(token)]).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
}

#[tokio::test]
async fn channels_round_trip_and_update() {
    let (_dir, store) = open_store();
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

#[tokio::test]
async fn channel_names_are_unique_per_team() {
    let (_dir, store) = open_store();
    let mut other_team = channel("C2", "general", ChannelKind::Public);
    other_team.team_id = TeamId::from("T2");

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
            .channel_by_name(&TeamId::from("T2"), "general")
            .await
            .unwrap(),
        Some(other_team)
    );
}

#[tokio::test]
async fn members_round_trip() {
    let (_dir, store) = open_store();
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

#[tokio::test]
async fn member_of_missing_channel_is_not_found() {
    let (_dir, store) = open_store();

    let result = commit_set(&store, vec![add_member("C9", "U1")]).await;

    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    assert!(!store
        .is_member(&team_id(), &ChannelId::from("C9"), &UserId::from("U1"))
        .await
        .unwrap());
}

#[tokio::test]
async fn messages_round_trip_update_delete() {
    let (_dir, store) = open_store();
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

#[tokio::test]
async fn failed_write_set_rolls_back_alone() {
    let (_dir, store) = open_store();
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

#[tokio::test]
async fn missing_rows_are_not_found() {
    let (_dir, store) = open_store();
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

#[tokio::test]
async fn thread_counts_follow_replies() {
    let (_dir, store) = store_with_messages(&[100, 400]).await;
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

#[tokio::test]
async fn deleting_older_reply_keeps_latest() {
    let (_dir, store) = store_with_messages(&[100]).await;
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

#[tokio::test]
async fn reply_to_reply_is_rejected() {
    let (_dir, store) = store_with_messages(&[100]).await;
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

#[tokio::test]
async fn empty_channel_history_is_empty() {
    let (_dir, store) = store_with_messages(&[]).await;

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

#[tokio::test]
async fn history_limit_and_order() {
    let (_dir, store) = store_with_messages(&[10, 20, 30, 40, 50]).await;

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

#[tokio::test]
async fn history_bounds_inclusive_and_exclusive() {
    let (_dir, store) = store_with_messages(&[10, 20, 30, 40, 50]).await;

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

#[tokio::test]
async fn history_leaves_replies_out() {
    let (_dir, store) = store_with_messages(&[100, 300]).await;
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

#[tokio::test]
async fn replies_in_order_with_range() {
    let (_dir, store) = store_with_messages(&[100, 150]).await;
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

#[tokio::test]
async fn reactions_grouped_in_added_order() {
    let (_dir, store) = store_with_messages(&[100]).await;
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

#[tokio::test]
async fn reactions_appear_in_history_and_replies() {
    let (_dir, store) = store_with_messages(&[100]).await;
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

#[tokio::test]
async fn deleted_message_loses_reactions() {
    let (_dir, store) = store_with_messages(&[100]).await;
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
async fn store_with_channel_mix() -> (TempDir, SqliteStore) {
    let (dir, store) = open_store();
    let mut archived = channel("C5", "old", ChannelKind::Public);
    archived.is_archived = true;
    commit_ok(
        &store,
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
    (dir, store)
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

#[tokio::test]
async fn channel_filter_hides_private_channels() {
    let (_dir, store) = store_with_channel_mix().await;
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

#[tokio::test]
async fn channel_page_after_is_exclusive() {
    let (_dir, store) = store_with_channel_mix().await;
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

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = database_path(&dir);
    let ada = user("U1", "ada", "ada@example.com");
    let store = SqliteStore::open(&path, true).unwrap();
    commit_ok(
        &store,
        vec![
            Write::InsertTeam(team("T1", 1)),
            Write::InsertUser(ada.clone()),
            Write::InsertChannel(channel("C1", "general", ChannelKind::Public)),
            add_member("C1", "U1"),
            Write::InsertMessage(message("C1", 100, "U1")),
            Write::InsertMessage(reply("C1", 200, 100, "U1")),
            add_reaction("C1", 100, "eyes", "U1", 1),
        ],
    )
    .await;
    drop(store);

    let store = SqliteStore::open(&path, true).unwrap();

    assert_eq!(store.team(&team_id()).await.unwrap(), Some(team("T1", 1)));
    assert_eq!(
        store.user(&team_id(), &UserId::from("U1")).await.unwrap(),
        Some(ada)
    );
    assert!(store
        .is_member(&team_id(), &ChannelId::from("C1"), &UserId::from("U1"))
        .await
        .unwrap());
    let parent = read_message(&store, "C1", 100).await.unwrap();
    assert_eq!(parent.reply_count, Some(1));
    assert_eq!(parent.reactions, vec![reaction("eyes", &["U1"])]);
    assert_eq!(replies_ts(&store, 100, everything()).await, vec![100, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reads_during_commits() {
    let (_dir, store) = store_with_messages(&[1]).await;
    let store = std::sync::Arc::new(store);

    let writer = {
        let store = std::sync::Arc::clone(&store);
        tokio::spawn(async move {
            for ts in 2..=50u64 {
                commit_ok(&store, vec![Write::InsertMessage(message("C1", ts, "U1"))]).await;
            }
        })
    };
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..20 {
                    let page = history_ts(&store, range(None, None, false, 10)).await;
                    assert!(!page.is_empty(), "the first message is always visible");
                    assert!(
                        page.windows(2).all(|pair| pair[0] > pair[1]),
                        "newest first: {page:?}"
                    );
                }
            })
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

#[tokio::test]
async fn empty_batch_returns_no_results() {
    let (_dir, store) = open_store();

    assert!(store.commit(Vec::new()).await.is_empty());
    assert_eq!(store.commit(vec![Vec::new()]).await, vec![Ok(())]);
}

/// Reads a pragma's value on the store's writer connection.
fn writer_pragma(store: &SqliteStore, pragma: &str) -> String {
    let writer = super::lock_connection(&store.shared.writer);
    writer
        .pragma_query_value(None, pragma, |row| row.get::<_, rusqlite::types::Value>(0))
        .map(|value| match value {
            rusqlite::types::Value::Integer(number) => number.to_string(),
            rusqlite::types::Value::Text(text) => text,
            other => format!("{other:?}"),
        })
        .expect("read pragma")
}

#[tokio::test]
async fn durable_flag_sets_synchronous() {
    let dir = tempfile::tempdir().unwrap();

    let durable = SqliteStore::open(&dir.path().join("durable.sqlite"), true).unwrap();
    let fast = SqliteStore::open(&dir.path().join("fast.sqlite"), false).unwrap();

    assert_eq!(writer_pragma(&durable, "journal_mode"), "wal");
    assert_eq!(writer_pragma(&durable, "synchronous"), "2", "FULL");
    assert_eq!(writer_pragma(&fast, "synchronous"), "0", "OFF");
}

#[tokio::test]
async fn read_connections_reject_writes() {
    let (_dir, store) = open_store();

    let result = store.shared.readers.with_connection(|connection| {
        connection.execute(
            "INSERT INTO teams (team_id, name, domain, created) VALUES ('T1', 'a', 'a', 0)",
            [],
        )
    });

    assert!(result.is_err(), "{result:?}");
}

#[tokio::test]
async fn locked_database_fails_whole_batch() {
    let (dir, store) = open_store();
    super::lock_connection(&store.shared.writer)
        .busy_timeout(std::time::Duration::from_millis(50))
        .unwrap();
    let other = Connection::open(database_path(&dir)).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let results = store
        .commit(vec![
            vec![Write::InsertTeam(team("T1", 1))],
            vec![Write::InsertTeam(team("T2", 2))],
        ])
        .await;

    assert_eq!(results.len(), 2);
    for result in &results {
        assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    }
    other.execute_batch("ROLLBACK").unwrap();
    assert!(store.teams().await.unwrap().is_empty());
}

fn login_link(hash: &str, expires: u64) -> switchboard_actors::web_auth::LoginLink {
    switchboard_actors::web_auth::LoginLink {
        team_id: team_id(),
        hash: hash.into(),
        user_id: UserId::from("U1"),
        created: Ts(1),
        expires: Ts(expires),
        used: false,
    }
}

fn use_link(hash: &str, now: u64) -> Write {
    Write::UseLoginLink {
        team_id: team_id(),
        hash: hash.into(),
        now: Ts(now),
    }
}

#[tokio::test]
async fn login_link_signs_in_once() {
    let (_dir, store) = open_store();
    commit_ok(&store, vec![Write::InsertLoginLink(login_link("h1", 100))]).await;

    let first = store.commit(vec![vec![use_link("h1", 50)]]).await;
    let second = store.commit(vec![vec![use_link("h1", 51)]]).await;

    assert_eq!(first, vec![Ok(())]);
    assert!(
        matches!(second[0], Err(StoreError::NotFound(_))),
        "{second:?}"
    );
    let stored = store.login_link(&team_id(), "h1").await.unwrap().unwrap();
    assert!(stored.used);
}

#[tokio::test]
async fn expired_login_link_is_rejected() {
    let (_dir, store) = open_store();
    commit_ok(&store, vec![Write::InsertLoginLink(login_link("h1", 100))]).await;

    let results = store.commit(vec![vec![use_link("h1", 100)]]).await;

    assert!(
        matches!(results[0], Err(StoreError::NotFound(_))),
        "{results:?}"
    );
    let stored = store.login_link(&team_id(), "h1").await.unwrap().unwrap();
    assert!(!stored.used);
}

#[tokio::test]
async fn browser_session_ends_on_delete() {
    let (_dir, store) = open_store();
    let session = switchboard_actors::web_auth::BrowserSession {
        team_id: team_id(),
        hash: "s1".into(),
        user_id: UserId::from("U1"),
        created: Ts(5),
    };
    commit_ok(&store, vec![Write::InsertBrowserSession(session.clone())]).await;
    assert_eq!(
        store.browser_session(&team_id(), "s1").await.unwrap(),
        Some(session)
    );

    let delete = Write::DeleteBrowserSession {
        team_id: team_id(),
        hash: "s1".into(),
    };
    commit_ok(&store, vec![delete.clone()]).await;

    assert_eq!(store.browser_session(&team_id(), "s1").await.unwrap(), None);
    let again = store.commit(vec![vec![delete]]).await;
    assert!(
        matches!(again[0], Err(StoreError::NotFound(_))),
        "{again:?}"
    );
}
