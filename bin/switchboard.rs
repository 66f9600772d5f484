//! `switchboard`: runs a node (`serve`) and administers its store (`admin`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use switchboard_actors::domain::Role;
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::{Page, Store, StoreError, Write};
use switchboard_engine::admin::{plan_guest, plan_user_action, AdminError, NewGuest, UserAction};
use switchboard_engine::directory::{create_team, create_token, create_user, NewUser};
use switchboard_engine::store::sqlite::SqliteStore;
use switchboard_engine::{Config, Engine};

/// Real-time team messaging in the shape of Slack's backend.
#[derive(Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: the Web API at /api/{method} and the real-time socket at /rtm.
    Serve(ServeArgs),
    /// Create teams, users and tokens, change roles, deactivate users, read the audit log.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// Settings shared by every command. Each flag can also come from the
/// environment variable named beside it, and from the TOML file given with
/// --config; flags win over the environment, which wins over the file.
#[derive(Args, Clone)]
struct CommonArgs {
    /// TOML file with node settings (keys as in `Config`: listen, data_dir, durable, ...).
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of the embedded store and bootstrap.json [default: ./data].
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SWITCHBOARD_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Base URL clients reach the node at, for rtm.connect URLs [default: the request's Host].
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Fsync each group commit before acknowledging writers [default: true].
    #[arg(long, env = "SWITCHBOARD_DURABLE")]
    durable: Option<bool>,
    /// Outbound queue per session, in frames; a full queue disconnects the client [default: 1024].
    #[arg(long, env = "SWITCHBOARD_SESSION_QUEUE")]
    session_queue: Option<usize>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a team with its #general channel; prints its id as JSON.
    CreateTeam {
        #[command(flatten)]
        common: CommonArgs,
        /// Team name.
        #[arg(long)]
        name: String,
    },
    /// Create a user (and a token for them); prints {"user_id","token"} as JSON.
    CreateUser {
        #[command(flatten)]
        common: CommonArgs,
        /// Team id, T…
        #[arg(long)]
        team: String,
        /// Unique handle in the team.
        #[arg(long)]
        name: String,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Full name.
        #[arg(long)]
        real_name: Option<String>,
        /// Create a bot user (its token is a bot token).
        #[arg(long)]
        bot: bool,
        /// Role: primary_owner, owner, admin or member.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Create another token for a user; prints {"token"} as JSON.
    CreateToken {
        #[command(flatten)]
        common: CommonArgs,
        /// Team id, T…
        #[arg(long)]
        team: String,
        /// User id, U…
        #[arg(long)]
        user: String,
    },
    /// Change a user's role; `primary_owner` transfers primary ownership (the
    /// current primary owner becomes an owner).
    SetRole {
        #[command(flatten)]
        target: UserTarget,
        /// New role: primary_owner, owner, admin, member, multi_channel_guest
        /// or single_channel_guest.
        #[arg(long)]
        role: String,
    },
    /// Deactivate a user: revoke their tokens; a running node closes their
    /// sockets within a second. Their messages stay.
    Deactivate {
        #[command(flatten)]
        target: UserTarget,
    },
    /// Reactivate a deactivated user; their old tokens stay revoked, so create
    /// a new one with create-token.
    Reactivate {
        #[command(flatten)]
        target: UserTarget,
    },
    /// End every real-time session of a user on a running node (their tokens
    /// stay valid).
    ResetSessions {
        #[command(flatten)]
        target: UserTarget,
    },
    /// Create a guest limited to the given channels, with a token; prints
    /// {"user_id","token"} as JSON.
    InviteGuest {
        #[command(flatten)]
        common: CommonArgs,
        /// Team id, T…
        #[arg(long)]
        team: String,
        /// Unique handle in the team.
        #[arg(long)]
        name: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Channel ids the guest may see, comma-separated (exactly one with --single-channel).
        #[arg(long, value_delimiter = ',', required = true)]
        channels: Vec<String>,
        /// Create a single-channel guest instead of a multi-channel guest.
        #[arg(long)]
        single_channel: bool,
    },
    /// Print the team's audit log, oldest first, one JSON object per line.
    Audit {
        #[command(flatten)]
        common: CommonArgs,
        /// Team id, T…
        #[arg(long)]
        team: String,
        /// Print only entries with an id above this one.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
}

/// The user an admin command acts on.
#[derive(Args)]
struct UserTarget {
    #[command(flatten)]
    common: CommonArgs,
    /// Team id, T…
    #[arg(long)]
    team: String,
    /// User id, U…
    #[arg(long)]
    user: String,
}

/// Builds the configuration: defaults, then the file, then env and flags.
fn load_config(common: &CommonArgs) -> anyhow::Result<Config> {
    let mut config = match &common.config {
        Some(path) => Config::from_toml_file(path)?,
        None => Config::default(),
    };
    if let Some(data_dir) = &common.data_dir {
        config.data_dir = data_dir.clone();
    }
    Ok(config)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Admin(command) => admin(command).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = load_config(&args.common)?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(url) = args.public_url {
        config.public_url = Some(url);
    }
    if let Some(durable) = args.durable {
        config.durable = durable;
    }
    if let Some(queue) = args.session_queue {
        config.session_queue = queue;
    }

    let engine = Engine::start(config.clone()).await?;
    let listener = engine.bind().await?;
    let address = listener.local_addr()?;
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let api_url = format!("{}/api/", base.trim_end_matches('/'));

    match engine.bootstrap(&api_url).await? {
        Some(bootstrap) => {
            println!("Created the demo workspace {}.", bootstrap.team_id);
            println!("  admin token: {}", bootstrap.admin.token);
            println!("  bot token:   {}", bootstrap.bot.token);
            println!("  saved to {}", config.bootstrap_path().display());
        }
        None => println!(
            "Tokens of the demo workspace: {}",
            config.bootstrap_path().display()
        ),
    }
    println!("Switchboard API at {api_url}");

    engine.serve(listener, shutdown_signal()).await;
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

fn parse_role(text: &str) -> anyhow::Result<Role> {
    match Role::from_name(text) {
        Some(role) => Ok(role),
        None => bail!(
            "invalid role {text:?}: use primary_owner, owner, admin, member, \
             multi_channel_guest or single_channel_guest"
        ),
    }
}

/// Commits one write set straight to the store.
async fn commit_writes(store: &SqliteStore, writes: Vec<Write>) -> anyhow::Result<()> {
    if writes.is_empty() {
        return Ok(());
    }
    store
        .commit(vec![writes])
        .await
        .pop()
        .unwrap_or_else(|| Err(StoreError::Backend("empty commit result".into())))?;
    Ok(())
}

/// Turns a rejected admin action into a message naming the error and the user.
fn explain(error: AdminError, user: &str) -> anyhow::Error {
    match error {
        AdminError::Rejected(error) => {
            anyhow::anyhow!("admin action on user {user} rejected: {}", error.code())
        }
        AdminError::Store(error) => anyhow::anyhow!("admin action on user {user} failed: {error}"),
    }
}

/// Plans and commits one action on a user as the operator; prints {"ok":true}.
async fn run_user_action(target: UserTarget, action: UserAction) -> anyhow::Result<()> {
    let store = open_store(&target.common)?;
    let team_id = TeamId::from(target.team.as_str());
    let user_id = UserId::from(target.user.as_str());
    let writes = plan_user_action(&store, &team_id, None, &user_id, action)
        .await
        .map_err(|error| explain(error, &target.user))?;
    commit_writes(&store, writes).await?;
    println!("{}", json!({ "ok": true }));
    Ok(())
}

fn open_store(common: &CommonArgs) -> anyhow::Result<SqliteStore> {
    let config = load_config(common)?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let path = config.store_path();
    SqliteStore::open(&path, true).with_context(|| format!("opening store {}", path.display()))
}

async fn admin(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateTeam { common, name } => {
            let store = open_store(&common)?;
            let (team, general) = create_team(&store, &name).await?;
            println!(
                "{}",
                json!({ "team_id": team.id, "general_channel_id": general.id })
            );
        }
        AdminCommand::CreateUser {
            common,
            team,
            name,
            email,
            real_name,
            bot,
            role,
        } => {
            let store = open_store(&common)?;
            let team_id = TeamId::from(team.as_str());
            let new = NewUser {
                name,
                real_name,
                email,
                is_bot: bot,
                role: Some(parse_role(&role)?),
            };
            let user = create_user(&store, &team_id, new).await?;
            let token = create_token(&store, &team_id, &user.id).await?;
            println!("{}", json!({ "user_id": user.id, "token": token }));
        }
        AdminCommand::CreateToken { common, team, user } => {
            let store = open_store(&common)?;
            let team_id = TeamId::from(team.as_str());
            if store.team(&team_id).await?.is_none() {
                bail!("team {team_id} not found");
            }
            let token = create_token(&store, &team_id, &UserId::from(user.as_str())).await?;
            println!("{}", json!({ "token": token }));
        }
        AdminCommand::SetRole { target, role } => {
            let action = match parse_role(&role)? {
                Role::PrimaryOwner => UserAction::TransferPrimaryOwner,
                role => UserAction::SetRole(role),
            };
            run_user_action(target, action).await?;
        }
        AdminCommand::Deactivate { target } => {
            run_user_action(target, UserAction::Deactivate).await?
        }
        AdminCommand::Reactivate { target } => {
            run_user_action(target, UserAction::Reactivate).await?
        }
        AdminCommand::ResetSessions { target } => {
            run_user_action(target, UserAction::ResetSessions).await?
        }
        AdminCommand::InviteGuest {
            common,
            team,
            name,
            email,
            channels,
            single_channel,
        } => {
            let store = open_store(&common)?;
            let team_id = TeamId::from(team.as_str());
            let guest = NewGuest {
                name: name.clone(),
                email,
                real_name: None,
                role: if single_channel {
                    Role::SingleChannelGuest
                } else {
                    Role::MultiChannelGuest
                },
                channels: channels
                    .iter()
                    .map(|c| ChannelId::from(c.as_str()))
                    .collect(),
            };
            let (user, writes) = plan_guest(&store, &team_id, None, guest)
                .await
                .map_err(|error| explain(error, &name))?;
            commit_writes(&store, writes)
                .await
                .with_context(|| format!("creating guest {name:?} in team {team_id}"))?;
            let token = create_token(&store, &team_id, &user.id).await?;
            println!("{}", json!({ "user_id": user.id, "token": token }));
        }
        AdminCommand::Audit {
            common,
            team,
            after,
        } => {
            let store = open_store(&common)?;
            let team_id = TeamId::from(team.as_str());
            let mut after = Some(after);
            loop {
                let page = store
                    .audit_entries(&team_id, Page { after, limit: 500 })
                    .await?;
                for entry in &page {
                    println!("{}", entry.to_api());
                }
                if page.len() < 500 {
                    break;
                }
                after = page.last().map(|entry| entry.id);
            }
        }
    }
    Ok(())
}
