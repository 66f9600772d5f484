//! `switchboard`: runs a node (`serve`) and administers its store (`admin`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use switchboard_actors::domain::Role;
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::ports::Store;
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
    /// Job queue: `embedded` or `kafka://host:port[/topic-prefix]` [default: embedded].
    #[arg(long, env = "SWITCHBOARD_QUEUE")]
    queue: Option<String>,
    /// This node's index among --node-count nodes; picks the job partitions it consumes [default: 0].
    #[arg(long, env = "SWITCHBOARD_NODE_INDEX")]
    node_index: Option<u32>,
    /// Number of nodes sharing the job queue [default: 1].
    #[arg(long, env = "SWITCHBOARD_NODE_COUNT")]
    node_count: Option<u32>,
    /// URL that push notifications are POSTed to as JSON [default: none, no pushes].
    #[arg(long, env = "SWITCHBOARD_PUSH_GATEWAY_URL")]
    push_gateway_url: Option<String>,
    /// Let link unfurls fetch private, loopback and link-local addresses [default: false].
    #[arg(long, env = "SWITCHBOARD_UNFURL_ALLOW_PRIVATE")]
    unfurl_allow_private: Option<bool>,
    /// Fault injection for crash tests: the outbox relay writes this file and
    /// then holds its jobs without publishing them.
    #[arg(long, env = "SWITCHBOARD_FAULT_RELAY_HOLD_MARKER", hide = true)]
    fault_relay_hold_marker: Option<PathBuf>,
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
    if let Some(queue) = args.queue {
        config.queue = queue;
    }
    if let Some(index) = args.node_index {
        config.node_index = index;
    }
    if let Some(count) = args.node_count {
        config.node_count = count;
    }
    if config.node_index >= config.node_count.max(1) {
        bail!(
            "invalid --node-index {}: it must be below --node-count {}",
            config.node_index,
            config.node_count
        );
    }
    if let Some(url) = args.push_gateway_url {
        config.push_gateway_url = Some(url);
    }
    if let Some(allow) = args.unfurl_allow_private {
        config.unfurl_allow_private = allow;
    }
    if let Some(marker) = args.fault_relay_hold_marker {
        config.fault_relay_hold_marker = Some(marker);
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
