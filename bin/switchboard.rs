//! `switchboard`: runs a node (`serve`) and administers its store (`admin`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use switchboard_actors::domain::Role;
use switchboard_actors::ids::{ChannelId, TeamId, UserId, WebhookId};
use switchboard_actors::ports::Store;
use switchboard_engine::directory::{create_team, create_token, create_user, NewUser};
use switchboard_engine::store::sqlite::SqliteStore;
use switchboard_engine::webhooks::{create_webhook, revoke_webhook};
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
    /// Create teams, users and tokens in the node's store.
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
    /// Largest incoming-webhook request body, in bytes [default: 1048576].
    #[arg(long, env = "SWITCHBOARD_MAX_WEBHOOK_BODY_BYTES")]
    max_webhook_body_bytes: Option<u64>,
    /// Largest file upload, in bytes [default: 104857600].
    #[arg(long, env = "SWITCHBOARD_MAX_FILE_BYTES")]
    max_file_bytes: Option<u64>,
}

// The subcommand names follow `switchboard admin create-…`; more verbs come later.
#[allow(clippy::enum_variant_names)]
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
    /// Create an incoming webhook; prints {"webhook_id","bot_user_id","path"} as JSON.
    /// The path (/hooks/T…/B…/SECRET) goes after the node's base URL and is shown once.
    CreateWebhook {
        #[command(flatten)]
        common: CommonArgs,
        /// Team id, T…
        #[arg(long)]
        team: String,
        /// Default conversation id, C…
        #[arg(long)]
        channel: String,
        /// Bot user to post as, U…; without it a new bot user is created.
        #[arg(long)]
        bot_user: Option<String>,
        /// Admin recorded as the creator, U… [default: USLACKBOT].
        #[arg(long)]
        created_by: Option<String>,
    },
    /// Revoke an incoming webhook; its URL rejects every later post.
    RevokeWebhook {
        #[command(flatten)]
        common: CommonArgs,
        /// Team id, T…
        #[arg(long)]
        team: String,
        /// Webhook id, B…
        #[arg(long)]
        webhook: String,
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
    if let Some(limit) = args.max_webhook_body_bytes {
        config.max_webhook_body_bytes = limit;
    }
    if let Some(limit) = args.max_file_bytes {
        config.max_file_bytes = limit;
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
    match text {
        "primary_owner" => Ok(Role::PrimaryOwner),
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        other => bail!("invalid role {other:?}: use primary_owner, owner, admin or member"),
    }
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
        AdminCommand::CreateWebhook {
            common,
            team,
            channel,
            bot_user,
            created_by,
        } => {
            let store = open_store(&common)?;
            let team_id = TeamId::from(team.as_str());
            let bot_user = bot_user.as_deref().map(UserId::from);
            let created = create_webhook(
                &store,
                &team_id,
                &ChannelId::from(channel.as_str()),
                bot_user.as_ref(),
                &UserId::from(created_by.as_deref().unwrap_or("USLACKBOT")),
            )
            .await?;
            println!(
                "{}",
                json!({
                    "webhook_id": created.webhook.id,
                    "bot_user_id": created.webhook.bot_user,
                    "path": created.path,
                })
            );
        }
        AdminCommand::RevokeWebhook {
            common,
            team,
            webhook,
        } => {
            let store = open_store(&common)?;
            revoke_webhook(
                &store,
                &TeamId::from(team.as_str()),
                &WebhookId::from(webhook.as_str()),
            )
            .await?;
            println!("{}", json!({ "revoked": webhook }));
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
    }
    Ok(())
}
