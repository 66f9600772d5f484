//! `switchboard admin seed`: a synthetic team of a given size (users, public
//! channels, memberships, messages), committed in large batches so that a team
//! of 10,000 users and 2,000 channels takes seconds, for demos and measurement.

use switchboard_actors::domain::{Channel, ChannelKind, Message, Profile, Role, TopicInfo, User};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::{Store, Write};
use switchboard_actors::ts::Ts;

use crate::directory::{create_team, create_token, DirectoryError};

/// Writes per write set while seeding.
const WRITES_PER_SET: usize = 1_000;

/// Write sets per `Store::commit` call while seeding.
const SETS_PER_COMMIT: usize = 20;

/// The size of a seeded team.
#[derive(Clone, Debug)]
pub struct SeedSize {
    /// Users to create, named `user0`, `user1`, ...
    pub users: usize,
    /// Public channels to create, named `channel0`, `channel1`, ...
    pub channels: usize,
    /// Channels each user is a member of (at most `channels`).
    pub channels_per_user: usize,
    /// Messages posted in each channel.
    pub messages_per_channel: usize,
}

/// The ids, token and counts `seed_team` created.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SeedReport {
    /// The new team.
    pub team_id: TeamId,
    /// `user0`, a member of `channels_per_user` channels.
    pub user_id: UserId,
    /// A user token of `user0`.
    pub token: String,
    /// Memberships created.
    pub memberships: usize,
    /// Messages created.
    pub messages: usize,
}

/// Creates a team named `name` of the given size. User `i` joins channels
/// `(i * channels_per_user + j) % channels` for `j` in `0..channels_per_user`,
/// so memberships spread evenly. Seeded users are not added to #general.
pub async fn seed_team(
    store: &dyn Store,
    name: &str,
    size: &SeedSize,
) -> Result<SeedReport, DirectoryError> {
    if size.users == 0 || size.channels == 0 {
        return Err(DirectoryError::Invalid(
            "a seeded team needs at least one user and one channel".into(),
        ));
    }
    let (team, _general) = create_team(store, name).await?;
    let now = Ts::now();
    let mut writes = Vec::new();

    let users: Vec<User> = (0..size.users)
        .map(|index| {
            let name = format!("user{index}");
            User {
                id: UserId::generate(),
                team_id: team.id.clone(),
                profile: Profile {
                    real_name: format!("User {index}"),
                    display_name: name.clone(),
                    email: format!("{name}@example.com"),
                    ..Profile::default()
                },
                name,
                is_bot: false,
                bot_id: None,
                role: if index == 0 {
                    Role::PrimaryOwner
                } else {
                    Role::Member
                },
                deleted: false,
                tz: "UTC".into(),
                updated: now,
            }
        })
        .collect();
    writes.extend(users.iter().cloned().map(Write::InsertUser));

    let channels: Vec<Channel> = (0..size.channels)
        .map(|index| Channel {
            id: ChannelId::generate(),
            team_id: team.id.clone(),
            name: format!("channel{index}"),
            kind: ChannelKind::Public,
            creator: users[0].id.clone(),
            created: now,
            is_archived: false,
            is_general: false,
            topic: TopicInfo::default(),
            purpose: TopicInfo::default(),
            im_user: None,
        })
        .collect();
    writes.extend(channels.iter().cloned().map(Write::InsertChannel));

    let per_user = size.channels_per_user.min(size.channels);
    let mut members_of: Vec<Vec<&UserId>> = vec![Vec::new(); size.channels];
    for (index, user) in users.iter().enumerate() {
        for offset in 0..per_user {
            let channel = (index * per_user + offset) % size.channels;
            members_of[channel].push(&user.id);
            writes.push(Write::AddMember {
                team_id: team.id.clone(),
                channel_id: channels[channel].id.clone(),
                user_id: user.id.clone(),
                joined: now,
            });
        }
    }
    let memberships = users.len() * per_user;

    // Messages get increasing ts values one microsecond apart, authored by
    // the channel's members in turn.
    let mut ts = now;
    let mut messages = 0;
    for (channel, members) in channels.iter().zip(&members_of) {
        for index in 0..size.messages_per_channel {
            let Some(author) = members.get(index % members.len().max(1)) else {
                break;
            };
            ts = Ts(ts.0 + 1);
            writes.push(Write::InsertMessage(Message::new(
                team.id.clone(),
                channel.id.clone(),
                (*author).clone(),
                format!("seeded message {index} in #{}", channel.name),
                ts,
            )));
            messages += 1;
        }
    }

    let sets: Vec<Vec<Write>> = writes
        .chunks(WRITES_PER_SET)
        .map(|chunk| chunk.to_vec())
        .collect();
    for batch in sets.chunks(SETS_PER_COMMIT) {
        for result in store.commit(batch.to_vec()).await {
            result?;
        }
    }
    let token = create_token(store, &team.id, &users[0].id).await?;
    tracing::info!(team = %team.id, users = users.len(), channels = channels.len(), memberships, messages, "team seeded");
    Ok(SeedReport {
        team_id: team.id,
        user_id: users[0].id.clone(),
        token,
        memberships,
        messages,
    })
}
