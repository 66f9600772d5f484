//! The message-post job: the side effects of a committed message. It finds
//! the members the message mentions (`<@U…>`, `<!channel>`, `<!everyone>`,
//! `<!here>`), counts the message as unread (and as a mention) for every other
//! member, and enqueues a push notification for each recipient of a direct
//! message or mention who has no open session, and an unfurl of its links.
//! It also records the author as active on the message's UTC day.

use std::collections::HashSet;

use switchboard_actors::activity::activity_write;
use switchboard_actors::calendar::Day;
use switchboard_actors::domain::ChannelKind;
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::jobs::{Job, JobPayload};
use switchboard_actors::ports::{Page, Write};
use switchboard_actors::ts::Ts;

use super::unfurl::extract_urls;
use super::JobContext;

/// Page size when reading the members of a conversation.
const MEMBER_PAGE: usize = 1000;

/// Mentions found in a message's text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Users named with `<@U…>` or `<@U…|label>`.
    pub users: Vec<UserId>,
    /// `<!channel>` or `<!everyone>`: every member.
    pub channel: bool,
    /// `<!here>`: every member with an open session.
    pub here: bool,
}

/// Finds the mentions in Slack's markup.
pub fn parse_mentions(text: &str) -> Mentions {
    let mut mentions = Mentions::default();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let inner = &after[..end];
        let target = inner.split('|').next().unwrap_or_default();
        if let Some(user) = target.strip_prefix('@') {
            if user.starts_with(['U', 'W']) && !user.is_empty() {
                let user = UserId::from(user);
                if !mentions.users.contains(&user) {
                    mentions.users.push(user);
                }
            }
        } else if target == "!channel" || target == "!everyone" {
            mentions.channel = true;
        } else if target == "!here" {
            mentions.here = true;
        }
        rest = &after[end + 1..];
    }
    mentions
}

pub(super) async fn handle(
    context: &JobContext,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
) -> Result<Vec<Write>, String> {
    let store = context.hub.store();
    let Some(message) = store
        .message(team_id, channel_id, ts)
        .await
        .map_err(|error| format!("failed to load message {ts} of {channel_id}: {error}"))?
    else {
        // Deleted before the job ran: nothing to count or notify.
        return Ok(Vec::new());
    };
    let channel = store
        .channel(team_id, channel_id)
        .await
        .map_err(|error| format!("failed to load channel {channel_id}: {error}"))?
        .ok_or_else(|| format!("channel {channel_id} of team {team_id} not found"))?;

    let mut members = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .members(
                team_id,
                channel_id,
                Page {
                    after: after.clone(),
                    limit: MEMBER_PAGE,
                },
            )
            .await
            .map_err(|error| format!("failed to load members of {channel_id}: {error}"))?;
        let full = page.len() == MEMBER_PAGE;
        after = page.last().cloned();
        members.extend(page);
        if !full {
            break;
        }
    }
    let recipients: Vec<UserId> = members
        .into_iter()
        .filter(|member| *member != message.user)
        .collect();

    let registry = context.hub.registry();
    let is_online = |user: &UserId| registry.session_count(user) > 0;
    let mentions = parse_mentions(&message.text);
    let named: HashSet<&UserId> = mentions.users.iter().collect();
    let mentioned: Vec<UserId> = recipients
        .iter()
        .filter(|user| {
            mentions.channel || named.contains(user) || (mentions.here && is_online(user))
        })
        .cloned()
        .collect();

    // The author was active on the message's day, for billing.
    let mut writes = vec![activity_write(team_id, &message.user, Day::of(message.ts))];
    // Thread replies do not count as unread in the conversation, as in Slack.
    let is_reply = message.thread_ts.is_some_and(|thread| thread != message.ts);
    if !is_reply && !recipients.is_empty() {
        writes.push(Write::CountUnread {
            team_id: team_id.clone(),
            channel_id: channel_id.clone(),
            ts,
            recipients: recipients.clone(),
            mentioned: mentioned.clone(),
        });
    }

    if context.settings.push_gateway_url.is_some() {
        let is_direct = channel.kind == ChannelKind::Im;
        for user in &recipients {
            let reason = if is_direct {
                "dm"
            } else if mentioned.contains(user) {
                "mention"
            } else {
                continue;
            };
            if is_online(user) {
                continue;
            }
            let payload = JobPayload::PushNotification {
                user_id: user.clone(),
                channel_id: channel_id.clone(),
                ts,
                author: message.user.clone(),
                text: message.text.clone(),
                reason: reason.into(),
            };
            writes.push(Write::InsertJob(Job::new(team_id.clone(), &payload)));
        }
    }

    let urls = extract_urls(&message.text);
    if !urls.is_empty() {
        let payload = JobPayload::UrlUnfurl {
            channel_id: channel_id.clone(),
            ts,
            urls,
        };
        writes.push(Write::InsertJob(Job::new(team_id.clone(), &payload)));
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found() {
        let mentions = parse_mentions("hi <@U1> and <@U2|bob>, <@U1> again <!here>");
        assert_eq!(mentions.users, vec![UserId::from("U1"), UserId::from("U2")]);
        assert!(mentions.here);
        assert!(!mentions.channel);
        assert!(parse_mentions("<!channel>").channel);
        assert!(parse_mentions("<!everyone|everyone>").channel);
        assert_eq!(
            parse_mentions("a < b > c <#C1> <http://x>"),
            Mentions::default()
        );
        assert_eq!(parse_mentions("unclosed <@U1"), Mentions::default());
    }
}
