//! The domain model: teams, users, channels, memberships, messages and reactions,
//! serialized in the shapes of Slack's Web API.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::ids::{BotId, ChannelId, TeamId, UserId};
use crate::ts::Ts;

/// Maximum length of a message's text, in characters, as Slack enforces it.
pub const MAX_MESSAGE_CHARS: usize = 40_000;

/// Maximum length of a channel name, in characters.
pub const MAX_CHANNEL_NAME_CHARS: usize = 80;

/// Maximum length of a channel topic or purpose, in characters.
pub const MAX_TOPIC_CHARS: usize = 250;

/// A team (workspace).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Team {
    /// Team id, `T…`.
    pub id: TeamId,
    /// Display name of the workspace.
    pub name: String,
    /// Short lower-case name used in URLs.
    pub domain: String,
    /// Creation time.
    pub created: Ts,
}

/// A member's system role in a team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The one owner who cannot be demoted.
    PrimaryOwner,
    /// An owner.
    Owner,
    /// An administrator.
    Admin,
    /// A regular member.
    Member,
    /// A multi-channel guest (Slack's `is_restricted`): sees and posts only in
    /// the channels they were given.
    MultiChannelGuest,
    /// A single-channel guest (Slack's `is_ultra_restricted`): like a
    /// multi-channel guest, given one channel.
    SingleChannelGuest,
}

impl Role {
    /// Returns the name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PrimaryOwner => "primary_owner",
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::MultiChannelGuest => "multi_channel_guest",
            Role::SingleChannelGuest => "single_channel_guest",
        }
    }

    /// Parses a stored role name; unknown names read as `Member`.
    pub fn parse(value: &str) -> Role {
        Role::from_name(value).unwrap_or(Role::Member)
    }

    /// Parses a role name as [`Role::as_str`] writes it; `None` when unknown.
    pub fn from_name(value: &str) -> Option<Role> {
        match value {
            "primary_owner" => Some(Role::PrimaryOwner),
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            "multi_channel_guest" => Some(Role::MultiChannelGuest),
            "single_channel_guest" => Some(Role::SingleChannelGuest),
            _ => None,
        }
    }

    /// Returns whether the role is an owner (primary or not).
    pub fn is_owner(self) -> bool {
        matches!(self, Role::PrimaryOwner | Role::Owner)
    }

    /// Returns whether the role administers the team: admins and owners.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::PrimaryOwner | Role::Owner | Role::Admin)
    }

    /// Returns whether the role is a guest of either kind.
    pub fn is_guest(self) -> bool {
        matches!(self, Role::MultiChannelGuest | Role::SingleChannelGuest)
    }
}

/// Profile fields of a user, as in Slack's `profile` object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Full name.
    pub real_name: String,
    /// Name shown in the client; may be empty.
    pub display_name: String,
    /// E-mail address; empty for bots.
    pub email: String,
    /// Job title.
    #[serde(default)]
    pub title: String,
    /// Phone number.
    #[serde(default)]
    pub phone: String,
    /// Status text.
    #[serde(default)]
    pub status_text: String,
    /// Status emoji, such as `:coffee:`.
    #[serde(default)]
    pub status_emoji: String,
}

/// A user of a team: a person or a bot user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// User id, `U…`.
    pub id: UserId,
    /// Team the user belongs to.
    pub team_id: TeamId,
    /// Unique handle within the team.
    pub name: String,
    /// Profile fields.
    pub profile: Profile,
    /// Whether this is a bot user.
    pub is_bot: bool,
    /// The bot integration behind a bot user.
    pub bot_id: Option<BotId>,
    /// System role in the team.
    pub role: Role,
    /// Whether the account is deactivated.
    pub deleted: bool,
    /// Time zone name, such as `Europe/Berlin`.
    pub tz: String,
    /// Last change of the record, in seconds, as Slack's `updated`.
    pub updated: Ts,
}

impl User {
    /// Serializes the user as Slack's `users.info` `user` object.
    pub fn to_api(&self) -> Value {
        let mut profile = serde_json::to_value(&self.profile).unwrap_or_default();
        if let Value::Object(map) = &mut profile {
            map.insert(
                "real_name_normalized".into(),
                self.profile.real_name.clone().into(),
            );
            map.insert(
                "display_name_normalized".into(),
                self.profile.display_name.clone().into(),
            );
            map.insert("team".into(), self.team_id.as_str().into());
            if let Some(bot_id) = &self.bot_id {
                map.insert("bot_id".into(), bot_id.as_str().into());
            }
        }
        serde_json::json!({
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.profile.real_name,
            "tz": self.tz,
            "profile": profile,
            "is_bot": self.is_bot,
            "is_app_user": false,
            "is_admin": self.role.is_admin(),
            "is_owner": self.role.is_owner(),
            "is_primary_owner": self.role == Role::PrimaryOwner,
            // Slack flags both guest kinds as restricted, and single-channel
            // guests also as ultra restricted.
            "is_restricted": self.role.is_guest(),
            "is_ultra_restricted": self.role == Role::SingleChannelGuest,
            "updated": self.updated.seconds(),
        })
    }
}

/// The kind of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A public channel that every full member can see and join.
    Public,
    /// A private channel, visible to its members only.
    Private,
    /// A direct message between two users (or a user and themselves).
    Im,
    /// A multi-person direct message.
    Mpim,
}

impl ChannelKind {
    /// Returns the name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Public => "public",
            ChannelKind::Private => "private",
            ChannelKind::Im => "im",
            ChannelKind::Mpim => "mpim",
        }
    }

    /// Parses a stored kind name.
    pub fn parse(value: &str) -> Option<ChannelKind> {
        match value {
            "public" => Some(ChannelKind::Public),
            "private" => Some(ChannelKind::Private),
            "im" => Some(ChannelKind::Im),
            "mpim" => Some(ChannelKind::Mpim),
            _ => None,
        }
    }

    /// Returns the name `conversations.list` uses in its `types` filter.
    pub fn api_type(self) -> &'static str {
        match self {
            ChannelKind::Public => "public_channel",
            ChannelKind::Private => "private_channel",
            ChannelKind::Im => "im",
            ChannelKind::Mpim => "mpim",
        }
    }

    /// Returns whether only members may see the conversation.
    pub fn is_private(self) -> bool {
        !matches!(self, ChannelKind::Public)
    }
}

/// A topic or purpose with who set it and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The text.
    pub value: String,
    /// User who set it, empty when never set.
    pub creator: String,
    /// When it was set, in seconds.
    pub last_set: u64,
}

/// A conversation: channel, private channel, direct or multi-person message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Conversation id.
    pub id: ChannelId,
    /// Team that owns it.
    pub team_id: TeamId,
    /// Name; for direct messages a generated key that is unique per user set.
    pub name: String,
    /// Kind of conversation.
    pub kind: ChannelKind,
    /// User who created it.
    pub creator: UserId,
    /// Creation time.
    pub created: Ts,
    /// Whether it is archived (read only).
    pub is_archived: bool,
    /// Whether this is the team's default channel that everyone is in.
    pub is_general: bool,
    /// Topic.
    pub topic: TopicInfo,
    /// Purpose.
    pub purpose: TopicInfo,
    /// For a direct message, the other user (or the user themselves).
    pub im_user: Option<UserId>,
}

impl Channel {
    /// Serializes the channel as Slack's `conversations.info` `channel` object.
    /// `viewer` is the user asking, for `is_member` and a direct message's `user`.
    pub fn to_api(&self, viewer_is_member: bool, viewer: &UserId) -> Value {
        let mut object = serde_json::json!({
            "id": self.id,
            "created": self.created.seconds(),
            "creator": self.creator,
            "context_team_id": self.team_id,
            "is_archived": self.is_archived,
            "is_channel": matches!(self.kind, ChannelKind::Public | ChannelKind::Private),
            "is_group": false,
            "is_im": self.kind == ChannelKind::Im,
            "is_mpim": self.kind == ChannelKind::Mpim,
            "is_private": self.kind.is_private(),
            "is_general": self.is_general,
            "is_shared": false,
            "is_ext_shared": false,
            "is_org_shared": false,
            "is_member": viewer_is_member,
        });
        let map = object.as_object_mut().expect("json! object");
        if self.kind == ChannelKind::Im {
            let other = if viewer == &self.creator {
                self.im_user.clone().unwrap_or_else(|| self.creator.clone())
            } else {
                self.creator.clone()
            };
            map.insert("user".into(), other.as_str().into());
            map.insert("is_open".into(), true.into());
        } else {
            map.insert("name".into(), self.name.clone().into());
            map.insert("name_normalized".into(), self.name.clone().into());
            map.insert(
                "topic".into(),
                serde_json::to_value(&self.topic).unwrap_or_default(),
            );
            map.insert(
                "purpose".into(),
                serde_json::to_value(&self.purpose).unwrap_or_default(),
            );
        }
        object
    }
}

/// Validates a channel name by Slack's rules: 1 to 80 characters of lower-case
/// letters, digits, hyphens and underscores (no spaces, periods or upper case).
pub fn validate_channel_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::InvalidNameRequired);
    }
    if name.chars().count() > MAX_CHANNEL_NAME_CHARS {
        return Err(ApiError::InvalidNameMaxlength);
    }
    let valid = name
        .chars()
        .all(|c| (c.is_alphanumeric() && !c.is_uppercase()) || c == '-' || c == '_');
    if !valid {
        return Err(ApiError::InvalidNameSpecials);
    }
    Ok(())
}

/// One reaction on a message, summarized as Slack returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReactionSummary {
    /// Emoji name without colons.
    pub name: String,
    /// Users who reacted, in the order they reacted.
    pub users: Vec<UserId>,
    /// Number of users.
    pub count: usize,
}

/// Who edited a message and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Edited {
    /// The editor.
    pub user: UserId,
    /// Time of the edit.
    pub ts: Ts,
}

/// A message in a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Always `"message"` on the wire.
    #[serde(rename = "type", default = "message_type")]
    pub kind: MessageType,
    /// Subtype, such as `channel_join` or `bot_message`; absent for plain messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    /// Author.
    pub user: UserId,
    /// Text in Slack's markup.
    pub text: String,
    /// Unique, strictly increasing id within the channel.
    pub ts: Ts,
    /// Team of the author.
    pub team: TeamId,
    /// Conversation the message is in; omitted inside history pages.
    #[serde(skip)]
    pub channel: ChannelId,
    /// Bot integration that posted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<BotId>,
    /// Parent of the thread the message belongs to (equal to `ts` on a parent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<Ts>,
    /// Author of the thread parent, on replies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<UserId>,
    /// Number of replies, on a thread parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_count: Option<u32>,
    /// `ts` of the latest reply, on a thread parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_reply: Option<Ts>,
    /// Last edit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited: Option<Edited>,
    /// Reactions, in the order they were first added.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub reactions: Vec<ReactionSummary>,
    /// Extra fields kept as given: `blocks`, `attachments`, `username`, `icons`,
    /// `metadata`.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// The constant `type` field of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// `"message"`.
    #[default]
    Message,
}

fn message_type() -> MessageType {
    MessageType::Message
}

impl Message {
    /// Creates a plain message with no thread, edit, reaction or extra field.
    pub fn new(team: TeamId, channel: ChannelId, user: UserId, text: String, ts: Ts) -> Self {
        Message {
            kind: MessageType::Message,
            subtype: None,
            user,
            text,
            ts,
            team,
            channel,
            bot_id: None,
            thread_ts: None,
            parent_user_id: None,
            reply_count: None,
            latest_reply: None,
            edited: None,
            reactions: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// Returns whether the message is a reply inside a thread (not its parent).
    pub fn is_reply(&self) -> bool {
        self.thread_ts.is_some_and(|thread| thread != self.ts)
    }
}

/// Checks that a message text is within Slack's limit.
pub fn validate_message_text(text: &str) -> Result<(), ApiError> {
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::MsgTooLong);
    }
    Ok(())
}

/// Kind of an API token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A user token, `xoxp-…`.
    User,
    /// A bot token, `xoxb-…`.
    Bot,
}

impl TokenKind {
    /// Returns the token prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::User => "xoxp",
            TokenKind::Bot => "xoxb",
        }
    }

    /// Returns the name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::User => "user",
            TokenKind::Bot => "bot",
        }
    }

    /// Parses a stored kind name.
    pub fn parse(value: &str) -> TokenKind {
        if value == "bot" {
            TokenKind::Bot
        } else {
            TokenKind::User
        }
    }
}

/// A stored API token. Only the SHA-256 hash of the secret is kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// Team the token belongs to; also written into the token text.
    pub team_id: TeamId,
    /// Hex SHA-256 of the whole token text.
    pub hash: String,
    /// User the token acts as.
    pub user_id: UserId,
    /// User or bot token.
    pub kind: TokenKind,
    /// Creation time.
    pub created: Ts,
    /// Whether the token was revoked.
    pub revoked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_follow_slack_rules() {
        assert_eq!(validate_channel_name("general"), Ok(()));
        assert_eq!(validate_channel_name("dev-ops_2"), Ok(()));
        assert_eq!(
            validate_channel_name(""),
            Err(ApiError::InvalidNameRequired)
        );
        assert_eq!(
            validate_channel_name(&"a".repeat(81)),
            Err(ApiError::InvalidNameMaxlength)
        );
        assert_eq!(validate_channel_name(&"a".repeat(80)), Ok(()));
        for bad in ["Upper", "with space", "dot.ted", "hash#"] {
            assert_eq!(
                validate_channel_name(bad),
                Err(ApiError::InvalidNameSpecials),
                "{bad}"
            );
        }
    }

    #[test]
    fn message_text_limit_counts_characters() {
        assert_eq!(validate_message_text(&"é".repeat(40_000)), Ok(()));
        assert_eq!(
            validate_message_text(&"a".repeat(40_001)),
            Err(ApiError::MsgTooLong)
        );
    }

    #[test]
    fn message_serializes_in_slack_shape() {
        let mut message = Message::new(
            TeamId::from("T1"),
            ChannelId::from("C1"),
            UserId::from("U1"),
            "hi".into(),
            Ts(1_000_000),
        );
        message.thread_ts = Some(Ts(500_000));
        let value = serde_json::to_value(&message).unwrap();
        assert_eq!(value["type"], "message");
        assert_eq!(value["ts"], "1.000000");
        assert_eq!(value["thread_ts"], "0.500000");
        assert!(value.get("channel").is_none());
        assert!(value.get("reactions").is_none());
        assert!(message.is_reply());
    }
}
