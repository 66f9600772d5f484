//! Creating teams, users and tokens, for the admin commands and the first-start
//! demo workspace. These write through the store directly, so they also work
//! while no node runs.

use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use switchboard_actors::audit::{AuditAction, AuditEntry};
use switchboard_actors::domain::{
    Channel, ChannelKind, Profile, Role, Team, TokenKind, TopicInfo, User,
};
use switchboard_actors::ids::{BotId, ChannelId, TeamId, UserId};
use switchboard_actors::ports::{ChannelFilter, Page, Store, StoreError, Write};
use switchboard_actors::ts::Ts;

use crate::auth::new_token;

/// A user to create.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    /// Unique handle in the team.
    pub name: String,
    /// Full name; defaults to the handle.
    pub real_name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Create a bot user with its own bot id.
    pub is_bot: bool,
    /// System role.
    pub role: Option<Role>,
}

/// Error of a directory operation.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A name is taken or invalid.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error("store failed: {0}")]
    Store(#[from] StoreError),
    /// The bootstrap file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

async fn commit_one(store: &dyn Store, writes: Vec<Write>) -> Result<(), StoreError> {
    store
        .commit(vec![writes])
        .await
        .pop()
        .unwrap_or_else(|| Err(StoreError::Backend("empty commit result".into())))
}

/// Creates a team with its `#general` channel (which every new user joins).
pub async fn create_team(store: &dyn Store, name: &str) -> Result<(Team, Channel), DirectoryError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DirectoryError::Invalid(
            "team name must not be empty".into(),
        ));
    }
    let now = Ts::now();
    let domain: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let team = Team {
        id: TeamId::generate(),
        name: name.to_owned(),
        domain,
        created: now,
    };
    let general = Channel {
        id: ChannelId::generate(),
        team_id: team.id.clone(),
        name: "general".into(),
        kind: ChannelKind::Public,
        creator: UserId::from("USLACKBOT"),
        created: now,
        is_archived: false,
        is_general: true,
        topic: TopicInfo::default(),
        purpose: TopicInfo {
            value: "This channel is for team-wide communication and announcements.".into(),
            creator: String::new(),
            last_set: now.seconds(),
        },
        im_user: None,
    };
    commit_one(
        store,
        vec![
            Write::InsertTeam(team.clone()),
            Write::InsertChannel(general.clone()),
        ],
    )
    .await?;
    tracing::info!(team = %team.id, name = %team.name, "team created");
    Ok((team, general))
}

/// Returns the team's general channel.
async fn general_channel(
    store: &dyn Store,
    team_id: &TeamId,
) -> Result<Option<Channel>, StoreError> {
    let filter = ChannelFilter {
        kinds: vec![ChannelKind::Public],
        exclude_archived: false,
        viewer: UserId::from("USLACKBOT"),
        only_member: false,
    };
    let mut after = None;
    loop {
        let page = store
            .channels(
                team_id,
                &filter,
                Page {
                    after: after.clone(),
                    limit: 500,
                },
            )
            .await?;
        if let Some(general) = page.iter().find(|c| c.is_general) {
            return Ok(Some(general.clone()));
        }
        if page.len() < 500 {
            return Ok(None);
        }
        after = page.last().map(|c| c.id.clone());
    }
}

/// Creates a user and adds them to the team's general channel.
pub async fn create_user(
    store: &dyn Store,
    team_id: &TeamId,
    new: NewUser,
) -> Result<User, DirectoryError> {
    insert_user(store, team_id, new, false).await
}

/// Creates a user like [`create_user`] and records it in the team's audit log
/// in the same transaction, with the command line as the actor. A running
/// node reads the entry on its next audit-log poll, adds the user to its team
/// cache and sends `team_join`.
pub async fn create_user_audited(
    store: &dyn Store,
    team_id: &TeamId,
    new: NewUser,
) -> Result<User, DirectoryError> {
    insert_user(store, team_id, new, true).await
}

/// Creates a user; with `audited`, the same write set appends a
/// `user_created` audit entry.
async fn insert_user(
    store: &dyn Store,
    team_id: &TeamId,
    new: NewUser,
    audited: bool,
) -> Result<User, DirectoryError> {
    let name = new.name.trim().to_lowercase();
    if name.is_empty() || name.len() > 80 || name.contains(char::is_whitespace) {
        return Err(DirectoryError::Invalid(format!(
            "invalid user name {:?}: use 1 to 80 characters without spaces",
            new.name
        )));
    }
    if store.team(team_id).await?.is_none() {
        return Err(DirectoryError::Invalid(format!("team {team_id} not found")));
    }
    let now = Ts::now();
    let user = User {
        id: UserId::generate(),
        team_id: team_id.clone(),
        name: name.clone(),
        profile: Profile {
            real_name: new.real_name.unwrap_or_else(|| name.clone()),
            display_name: name.clone(),
            email: new.email.unwrap_or_default(),
            ..Profile::default()
        },
        is_bot: new.is_bot,
        bot_id: new.is_bot.then(BotId::generate),
        role: new.role.unwrap_or(Role::Member),
        deleted: false,
        tz: "UTC".into(),
        updated: now,
    };
    let mut writes = vec![Write::InsertUser(user.clone())];
    if audited {
        writes.push(Write::InsertAuditEntry(AuditEntry::new(
            team_id.clone(),
            None,
            AuditAction::UserCreated,
            user.id.clone(),
            serde_json::json!({ "role": user.role.as_str(), "is_bot": user.is_bot }),
        )));
    }
    if let Some(general) = general_channel(store, team_id).await? {
        writes.push(Write::AddMember {
            team_id: team_id.clone(),
            channel_id: general.id,
            user_id: user.id.clone(),
            joined: now,
        });
    }
    match commit_one(store, writes).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(DirectoryError::Invalid(format!(
                "user name {name:?} is taken in team {team_id}"
            )))
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(team = %team_id, user = %user.id, name = %user.name, "user created");
    Ok(user)
}

/// Creates a token for a user (a bot token for bot users) and returns its text.
pub async fn create_token(
    store: &dyn Store,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<String, DirectoryError> {
    let user = store.user(team_id, user_id).await?.ok_or_else(|| {
        DirectoryError::Invalid(format!("user {user_id} not found in team {team_id}"))
    })?;
    let kind = if user.is_bot {
        TokenKind::Bot
    } else {
        TokenKind::User
    };
    let (text, record) = new_token(team_id, user_id, kind);
    commit_one(store, vec![Write::InsertToken(record)]).await?;
    tracing::info!(team = %team_id, user = %user_id, kind = kind.as_str(), "token created");
    Ok(text)
}

/// One account in `bootstrap.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BootstrapAccount {
    /// The user.
    pub user_id: UserId,
    /// The user's token.
    pub token: String,
}

/// The content of `DATA_DIR/bootstrap.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Bootstrap {
    /// Base URL of the Web API, ending in `/api/`.
    pub api_url: String,
    /// The demo team.
    pub team_id: TeamId,
    /// The admin user (primary owner).
    pub admin: BootstrapAccount,
    /// The bot user.
    pub bot: BootstrapAccount,
}

/// Creates the demo workspace when the store has no team: a team, an admin
/// (primary owner), a bot user, `#general` and `#random`, and a token for each
/// user. Writes `bootstrap.json` with mode 0600. Returns `None` when a team
/// exists already.
pub async fn bootstrap_if_empty(
    store: &dyn Store,
    data_dir: &Path,
    api_url: &str,
) -> Result<Option<Bootstrap>, DirectoryError> {
    if !store.teams().await?.is_empty() {
        return Ok(None);
    }
    let (team, _) = create_team(store, "Switchboard Demo").await?;
    let admin = create_user(
        store,
        &team.id,
        NewUser {
            name: "admin".into(),
            real_name: Some("Demo Admin".into()),
            email: Some("admin@example.com".into()),
            role: Some(Role::PrimaryOwner),
            ..NewUser::default()
        },
    )
    .await?;
    let bot = create_user(
        store,
        &team.id,
        NewUser {
            name: "switchboard-bot".into(),
            real_name: Some("Switchboard Bot".into()),
            is_bot: true,
            ..NewUser::default()
        },
    )
    .await?;
    let now = Ts::now();
    let random = Channel {
        id: ChannelId::generate(),
        team_id: team.id.clone(),
        name: "random".into(),
        kind: ChannelKind::Public,
        creator: admin.id.clone(),
        created: now,
        is_archived: false,
        is_general: false,
        topic: TopicInfo::default(),
        purpose: TopicInfo::default(),
        im_user: None,
    };
    commit_one(
        store,
        vec![
            Write::InsertChannel(random.clone()),
            Write::AddMember {
                team_id: team.id.clone(),
                channel_id: random.id.clone(),
                user_id: admin.id.clone(),
                joined: now,
            },
        ],
    )
    .await?;
    let bootstrap = Bootstrap {
        api_url: api_url.to_owned(),
        team_id: team.id.clone(),
        admin: BootstrapAccount {
            token: create_token(store, &team.id, &admin.id).await?,
            user_id: admin.id,
        },
        bot: BootstrapAccount {
            token: create_token(store, &team.id, &bot.id).await?,
            user_id: bot.id,
        },
    };
    write_bootstrap_file(&data_dir.join("bootstrap.json"), &bootstrap)?;
    Ok(Some(bootstrap))
}

/// Writes the bootstrap file readable by its owner only.
fn write_bootstrap_file(path: &Path, bootstrap: &Bootstrap) -> Result<(), DirectoryError> {
    let io_error = |source| DirectoryError::Io {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_string_pretty(bootstrap).expect("bootstrap serializes");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_error)?;
    file.write_all(text.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    Ok(())
}
