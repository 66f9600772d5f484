//! The built-in Slackbot user (`USLACKBOT`) and its direct messages with the
//! team's users. Both are created on first use: the user as a bot user named
//! `slackbot`, and each direct message like `conversations.open` creates one
//! (with `im_created` to the user).

use switchboard_actors::domain::{Channel, ChannelKind, Profile, Role, TopicInfo, User};
use switchboard_actors::events;
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::reminder::{SLACKBOT_NAME, SLACKBOT_USER_ID};
use switchboard_actors::ts::Ts;
use switchboard_actors::Hub;

/// Returns the team's Slackbot user, creating it when it does not exist.
pub(super) async fn ensure_user(hub: &Hub, team_id: &TeamId) -> Result<User, String> {
    let id = UserId::from(SLACKBOT_USER_ID);
    if let Some(user) = load_user(hub, team_id, &id).await? {
        return Ok(user);
    }
    let user = User {
        id: id.clone(),
        team_id: team_id.clone(),
        name: SLACKBOT_NAME.into(),
        profile: Profile {
            real_name: "Slackbot".into(),
            display_name: "Slackbot".into(),
            ..Profile::default()
        },
        is_bot: true,
        bot_id: None,
        role: Role::Member,
        deleted: false,
        tz: "UTC".into(),
        updated: Ts::now(),
    };
    match hub.write(vec![Write::InsertUser(user.clone())]).await {
        Ok(()) => {
            tracing::info!(team = %team_id, user = %id, "Slackbot user created");
            hub.update_team_cache(team_id, |cache| cache.upsert_user(user.clone()));
            Ok(user)
        }
        // Created by a concurrent job, or the name is taken by another user.
        Err(StoreError::Conflict(detail)) => load_user(hub, team_id, &id).await?.ok_or_else(|| {
            format!(
                "failed to create the Slackbot user in team {team_id}: {detail}; \
                 rename the user named {SLACKBOT_NAME:?} so that reminders can be delivered"
            )
        }),
        Err(error) => Err(format!(
            "failed to create the Slackbot user in team {team_id}: {error}"
        )),
    }
}

async fn load_user(hub: &Hub, team_id: &TeamId, id: &UserId) -> Result<Option<User>, String> {
    hub.store()
        .user(team_id, id)
        .await
        .map_err(|error| format!("failed to load user {id} of team {team_id}: {error}"))
}

/// Returns the direct message between Slackbot and `user_id`, creating it
/// when it does not exist.
pub(super) async fn ensure_im(
    hub: &Hub,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<Channel, String> {
    let slackbot = UserId::from(SLACKBOT_USER_ID);
    let mut members = [slackbot.clone(), user_id.clone()];
    members.sort();
    // The same key as `conversations.open`, so either path finds the other's
    // conversation.
    let key = format!("im-{}-{}", members[0], members[1]);
    if let Some(channel) = load_im(hub, team_id, &key).await? {
        return Ok(channel);
    }

    let now = Ts::now();
    let channel = Channel {
        id: ChannelId::generate_im(),
        team_id: team_id.clone(),
        name: key.clone(),
        kind: ChannelKind::Im,
        creator: slackbot.clone(),
        created: now,
        is_archived: false,
        is_general: false,
        topic: TopicInfo::default(),
        purpose: TopicInfo::default(),
        im_user: Some(user_id.clone()),
    };
    let mut writes = vec![Write::InsertChannel(channel.clone())];
    for member in &members {
        writes.push(Write::AddMember {
            team_id: team_id.clone(),
            channel_id: channel.id.clone(),
            user_id: member.clone(),
            joined: now,
        });
    }
    match hub.write(writes).await {
        Ok(()) => {}
        // Opened by a concurrent job or `conversations.open` first.
        Err(StoreError::Conflict(detail)) => {
            return load_im(hub, team_id, &key).await?.ok_or_else(|| {
                format!(
                    "failed to open the Slackbot direct message {key} in team {team_id}: {detail}"
                )
            });
        }
        Err(error) => {
            return Err(format!(
                "failed to open the Slackbot direct message {key} in team {team_id}: {error}"
            ))
        }
    }
    hub.update_team_cache(team_id, |cache| {
        cache.upsert_channel(channel.clone());
        for member in &members {
            cache.add_member(&channel.id, member);
        }
    });
    hub.deliver_to_user(user_id, &events::im_created(user_id, &channel));
    tracing::info!(team = %team_id, channel = %channel.id, user = %user_id, "Slackbot direct message opened");
    Ok(channel)
}

async fn load_im(hub: &Hub, team_id: &TeamId, key: &str) -> Result<Option<Channel>, String> {
    hub.store()
        .channel_by_name(team_id, key)
        .await
        .map_err(|error| {
            format!("failed to look up direct message {key} of team {team_id}: {error}")
        })
}
