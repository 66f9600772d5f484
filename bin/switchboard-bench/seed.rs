//! Bulk creation of benchmark users, channels and tokens. Creating users one by
//! one through `directory::create_user` costs a transaction each, so these
//! helpers commit many write sets per `Store::commit` call.

use anyhow::{anyhow, Context};

use switchboard_actors::domain::{Channel, ChannelKind, Profile, Role, TokenKind, TopicInfo, User};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::{Store, Write};
use switchboard_actors::ts::Ts;
use switchboard_engine::auth::new_token;
use switchboard_engine::directory::create_team;

/// Write sets per `Store::commit` call while seeding.
const SEED_BATCH: usize = 1_000;

/// Returns a member-role user record named `name`.
pub fn bench_user(team_id: &TeamId, name: String) -> User {
    User {
        id: UserId::generate(),
        team_id: team_id.clone(),
        profile: Profile {
            real_name: name.clone(),
            display_name: name.clone(),
            ..Profile::default()
        },
        name,
        is_bot: false,
        bot_id: None,
        role: Role::Member,
        deleted: false,
        tz: "UTC".into(),
        updated: Ts::now(),
    }
}

/// Returns a public channel record named `name`, created by `creator`.
pub fn bench_channel(team_id: &TeamId, name: String, creator: &UserId) -> Channel {
    Channel {
        id: ChannelId::generate(),
        team_id: team_id.clone(),
        name,
        kind: ChannelKind::Public,
        creator: creator.clone(),
        created: Ts::now(),
        is_archived: false,
        is_general: false,
        topic: TopicInfo::default(),
        purpose: TopicInfo::default(),
        im_user: None,
    }
}

/// Returns the write that adds `user_id` to a channel.
pub fn add_member(channel: &Channel, user_id: &UserId) -> Write {
    Write::AddMember {
        team_id: channel.team_id.clone(),
        channel_id: channel.id.clone(),
        user_id: user_id.clone(),
        joined: Ts::now(),
    }
}

/// Commits write sets in batches of [`SEED_BATCH`]; fails on the first write
/// set the store rejects.
pub async fn commit_all(store: &dyn Store, sets: Vec<Vec<Write>>) -> anyhow::Result<()> {
    let mut sets = sets.into_iter().peekable();
    while sets.peek().is_some() {
        let batch: Vec<Vec<Write>> = sets.by_ref().take(SEED_BATCH).collect();
        for result in store.commit(batch).await {
            result.context("seeding the store failed")?;
        }
    }
    Ok(())
}

/// One channel of the WebSocket workload, seeded in a team of its own.
#[derive(Clone, Debug)]
pub struct SeededChannel {
    /// The channel.
    pub channel_id: ChannelId,
    /// Token of a member that posts and has no socket.
    pub poster_token: String,
    /// Tokens of the members that connect, one per client.
    pub client_tokens: Vec<String>,
}

/// Seeds `clients` users spread over `channels` channels, each channel in a
/// team of its own, plus one posting user per channel. A team per channel
/// keeps the `presence_change` broadcasts at connect time, which reach every
/// session of the team, to (members^2)/2 frames per team instead of
/// (clients^2)/2 in all.
pub async fn seed_ws_workspace(
    store: &dyn Store,
    clients: usize,
    channels: usize,
) -> anyhow::Result<Vec<SeededChannel>> {
    let mut seeded = Vec::with_capacity(channels);
    let mut sets = Vec::new();
    for index in 0..channels {
        let (team, _general) = create_team(store, &format!("bench-{index}"))
            .await
            .map_err(|error| anyhow!("creating team bench-{index} failed: {error}"))?;
        let poster = bench_user(&team.id, format!("poster-{index}"));
        let channel = bench_channel(&team.id, format!("bench-{index}"), &poster.id);
        let (poster_token, poster_record) = new_token(&team.id, &poster.id, TokenKind::User);
        sets.push(vec![
            Write::InsertUser(poster.clone()),
            Write::InsertToken(poster_record),
            Write::InsertChannel(channel.clone()),
            add_member(&channel, &poster.id),
        ]);

        // Client i belongs to channel i mod channels.
        let members = (index..clients).step_by(channels);
        let mut client_tokens = Vec::new();
        for client in members {
            let user = bench_user(&team.id, format!("client-{client}"));
            let (token, record) = new_token(&team.id, &user.id, TokenKind::User);
            sets.push(vec![
                Write::InsertUser(user.clone()),
                Write::InsertToken(record),
                add_member(&channel, &user.id),
            ]);
            client_tokens.push(token);
        }
        seeded.push(SeededChannel {
            channel_id: channel.id,
            poster_token,
            client_tokens,
        });
    }
    commit_all(store, sets).await?;
    Ok(seeded)
}
