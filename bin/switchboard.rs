//! `switchboard`: runs a node (`serve`) and administers its store (`admin`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use switchboard_actors::calendar::Month;
use switchboard_actors::domain::Role;
use switchboard_actors::ids::{ChannelId, TeamId, UserId, WebhookId};
use switchboard_actors::ports::{Page, Store, StoreError, Write};
use switchboard_engine::admin::{plan_guest, plan_user_action, AdminError, NewGuest, UserAction};
use switchboard_engine::billing::compute_report;
use switchboard_engine::directory::{create_team, create_token, create_user_audited, NewUser};
use switchboard_engine::seed::{seed_team, SeedSize};
use switchboard_engine::store::open_store as open_store_url;
use switchboard_engine::store::url::StoreUrl;
use switchboard_engine::web_auth::create_login_link;
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
    /// Create teams, users and tokens, change roles, deactivate users, read the audit log and billing.
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
    /// Store URL: sqlite://PATH or mysql://user:password@host:port/database
    /// [default: sqlite://DATA_DIR/switchboard.db].
    #[arg(long, env = "SWITCHBOARD_STORE")]
    store: Option<String>,
    /// Maximum number of MySQL connections in the pool [default: 8].
    #[arg(long, env = "SWITCHBOARD_STORE_POOL_SIZE")]
    store_pool_size: Option<usize>,
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
    /// Seconds a team stays loaded with no session and no request; 0 keeps teams loaded [default: 0].
    #[arg(long, env = "SWITCHBOARD_TEAM_IDLE_SECS")]
    team_idle_secs: Option<u64>,
    /// Milliseconds without client frames after which a device is idle; a user whose devices are all idle is away [default: 1800000].
    #[arg(long, env = "SWITCHBOARD_PRESENCE_IDLE_MS")]
    presence_idle_ms: Option<u64>,
    /// Milliseconds over which presence changes for one session are batched into one event; 0 sends each at once [default: 100].
    #[arg(long, env = "SWITCHBOARD_PRESENCE_BATCH_MS")]
    presence_batch_ms: Option<u64>,
    /// Largest incoming-webhook request body, in bytes [default: 1048576].
    #[arg(long, env = "SWITCHBOARD_MAX_WEBHOOK_BODY_BYTES")]
    max_webhook_body_bytes: Option<u64>,
    /// Largest file upload, in bytes [default: 104857600].
    #[arg(long, env = "SWITCHBOARD_MAX_FILE_BYTES")]
    max_file_bytes: Option<u64>,
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
    /// Apply pending schema migrations to the store; prints {"store"} as JSON.
    Migrate {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create a synthetic team of the given size (users user0.., public
    /// channels channel0.., memberships, messages); prints the team id and a
    /// token of user0 as JSON.
    Seed {
        #[command(flatten)]
        common: CommonArgs,
        /// Team name.
        #[arg(long, default_value = "Seeded")]
        name: String,
        /// Number of users.
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// Number of public channels.
        #[arg(long, default_value_t = 2_000)]
        channels: usize,
        /// Channels each user is a member of.
        #[arg(long, default_value_t = 20)]
        channels_per_user: usize,
        /// Messages posted in each channel.
        #[arg(long, default_value_t = 5)]
        messages_per_channel: usize,
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
    /// Print a single-use link that signs a browser in to the web client as a
    /// user; it expires after 15 minutes.
    LoginLink {
        #[command(flatten)]
        common: CommonArgs,
        /// User id (U…) or user name.
        user: String,
        /// Team id, T…; needed only when several teams have a user of that name.
        #[arg(long)]
        team: Option<String>,
        /// Base URL of the node [default: from bootstrap.json, else http://127.0.0.1:8080].
        #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
        url: Option<String>,
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
    /// Compute a team's billing report for a month from the store and print it
    /// as JSON, in the shape of admin.billing.report's `report`; nothing is
    /// stored.
    Billing {
        #[command(flatten)]
        common: CommonArgs,
        /// Team id, T…
        #[arg(long)]
        team: String,
        /// Month to bill, YYYY-MM in UTC [default: the current month].
        #[arg(long)]
        month: Option<String>,
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
    if let Some(store) = &common.store {
        config.store = Some(store.clone());
    }
    if let Some(pool_size) = common.store_pool_size {
        config.store_pool_size = pool_size;
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
    if let Some(idle) = args.team_idle_secs {
        config.team_idle_secs = idle;
    }
    if let Some(idle) = args.presence_idle_ms {
        config.presence_idle_ms = idle;
    }
    if let Some(batch) = args.presence_batch_ms {
        config.presence_batch_ms = batch;
    }
    if let Some(limit) = args.max_webhook_body_bytes {
        config.max_webhook_body_bytes = limit;
    }
    if let Some(limit) = args.max_file_bytes {
        config.max_file_bytes = limit;
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
            let link = create_login_link(
                engine.hub().store().as_ref(),
                &bootstrap.team_id,
                &bootstrap.admin.user_id,
            )
            .await?;
            println!(
                "Sign in to the web client as the admin (single use, expires in 15 minutes):\n  {}",
                login_url(&base, &link)
            );
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
async fn commit_writes(store: &dyn Store, writes: Vec<Write>) -> anyhow::Result<()> {
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
    let store = open_store(&target.common).await?;
    let team_id = TeamId::from(target.team.as_str());
    let user_id = UserId::from(target.user.as_str());
    let writes = plan_user_action(store.as_ref(), &team_id, None, &user_id, action)
        .await
        .map_err(|error| explain(error, &target.user))?;
    commit_writes(store.as_ref(), writes).await?;
    println!("{}", json!({ "ok": true }));
    Ok(())
}

/// Opens the store the settings name, applying pending migrations. Errors name
/// the store URL with its password masked.
async fn open_store(common: &CommonArgs) -> anyhow::Result<Arc<dyn Store>> {
    let config = load_config(common)?;
    let url = config.store_url()?;
    if let StoreUrl::Sqlite(path) = &url {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating data directory {}", parent.display()))?;
        }
    }
    open_store_url(&url, true, config.store_pool_size)
        .await
        .with_context(|| format!("opening store {url}"))
}

async fn admin(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Migrate { common } => {
            let config = load_config(&common)?;
            open_store(&common).await?;
            println!("{}", json!({ "store": config.store_url()?.masked() }));
        }
        AdminCommand::CreateTeam { common, name } => {
            let store = open_store(&common).await?;
            let (team, general) = create_team(store.as_ref(), &name).await?;
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
            let store = open_store(&common).await?;
            let team_id = TeamId::from(team.as_str());
            let new = NewUser {
                name,
                real_name,
                email,
                is_bot: bot,
                role: Some(parse_role(&role)?),
            };
            let user = create_user_audited(store.as_ref(), &team_id, new).await?;
            let token = create_token(store.as_ref(), &team_id, &user.id).await?;
            println!("{}", json!({ "user_id": user.id, "token": token }));
        }
        AdminCommand::Seed {
            common,
            name,
            users,
            channels,
            channels_per_user,
            messages_per_channel,
        } => {
            let store = open_store(&common).await?;
            let size = SeedSize {
                users,
                channels,
                channels_per_user,
                messages_per_channel,
            };
            let report = seed_team(store.as_ref(), &name, &size).await?;
            println!("{}", serde_json::to_string(&report)?);
        }
        AdminCommand::CreateWebhook {
            common,
            team,
            channel,
            bot_user,
            created_by,
        } => {
            let store = open_store(&common).await?;
            let team_id = TeamId::from(team.as_str());
            let bot_user = bot_user.as_deref().map(UserId::from);
            let created = create_webhook(
                store.as_ref(),
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
            let store = open_store(&common).await?;
            revoke_webhook(
                store.as_ref(),
                &TeamId::from(team.as_str()),
                &WebhookId::from(webhook.as_str()),
            )
            .await?;
            println!("{}", json!({ "revoked": webhook }));
        }
        AdminCommand::CreateToken { common, team, user } => {
            let store = open_store(&common).await?;
            let team_id = TeamId::from(team.as_str());
            if store.team(&team_id).await?.is_none() {
                bail!("team {team_id} not found");
            }
            let token =
                create_token(store.as_ref(), &team_id, &UserId::from(user.as_str())).await?;
            println!("{}", json!({ "token": token }));
        }
        AdminCommand::LoginLink {
            common,
            user,
            team,
            url,
        } => {
            let config = load_config(&common)?;
            let store = open_store(&common).await?;
            let (team_id, user_id) = find_user(store.as_ref(), team.as_deref(), &user).await?;
            let link = create_login_link(store.as_ref(), &team_id, &user_id).await?;
            let base = match url {
                Some(url) => url,
                None => node_url_from_bootstrap(&config.bootstrap_path())
                    .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
            };
            println!("{}", login_url(&base, &link));
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
            let store = open_store(&common).await?;
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
            let (user, writes) = plan_guest(store.as_ref(), &team_id, None, guest)
                .await
                .map_err(|error| explain(error, &name))?;
            commit_writes(store.as_ref(), writes)
                .await
                .with_context(|| format!("creating guest {name:?} in team {team_id}"))?;
            let token = create_token(store.as_ref(), &team_id, &user.id).await?;
            println!("{}", json!({ "user_id": user.id, "token": token }));
        }
        AdminCommand::Billing {
            common,
            team,
            month,
        } => {
            let month = match month {
                Some(text) => text.parse::<Month>()?,
                None => Month::current(),
            };
            let store = open_store(&common).await?;
            let team_id = TeamId::from(team.as_str());
            if store.team(&team_id).await?.is_none() {
                bail!("team {team_id} not found");
            }
            let report = compute_report(store.as_ref(), &team_id, month, "")
                .await
                .with_context(|| {
                    format!("computing the billing report {month} of team {team_id}")
                })?;
            println!("{}", report.to_api());
        }
        AdminCommand::Audit {
            common,
            team,
            after,
        } => {
            let store = open_store(&common).await?;
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

/// Builds the sign-in URL of a login link token.
fn login_url(base: &str, token: &str) -> String {
    format!("{}/login?token={token}", base.trim_end_matches('/'))
}

/// Returns the node's base URL from the `api_url` in bootstrap.json.
fn node_url_from_bootstrap(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let api_url = value.get("api_url")?.as_str()?;
    Some(
        api_url
            .trim_end_matches('/')
            .trim_end_matches("/api")
            .to_owned(),
    )
}

/// Finds a user by id or name, in one team or across every team.
async fn find_user(
    store: &dyn Store,
    team: Option<&str>,
    user: &str,
) -> anyhow::Result<(TeamId, UserId)> {
    let teams = match team {
        Some(team) => vec![TeamId::from(team)],
        None => store
            .teams()
            .await?
            .into_iter()
            .map(|team| team.id)
            .collect(),
    };
    let mut found = Vec::new();
    for team_id in teams {
        let by_id = store.user(&team_id, &UserId::from(user)).await?;
        let record = match by_id {
            Some(record) => Some(record),
            None => store.user_by_name(&team_id, user).await?,
        };
        if let Some(record) = record {
            found.push((team_id, record.id));
        }
    }
    match found.len() {
        0 => bail!("user {user:?} not found: pass a user id (U…) or name, and --team when needed"),
        1 => Ok(found.remove(0)),
        _ => bail!("several teams have a user {user:?}: pass --team T…"),
    }
}
