//! Real-time events in Slack's RTM shapes. Each event is encoded to JSON once,
//! and the same [`Bytes`] go to every recipient.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::{Channel, Message, User};
use crate::ids::{ChannelId, FileId, UserId};
use crate::ts::Ts;

/// Encodes a JSON value as one text frame.
pub fn encode(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("a serde_json::Value always serializes"))
}

/// `hello`, the first frame of every socket.
pub fn hello() -> Bytes {
    Bytes::from_static(br#"{"type":"hello"}"#)
}

/// A message as it is sent on the socket: the stored message plus its channel
/// and `event_ts`.
#[derive(Serialize)]
struct MessageEvent<'a> {
    /// Conversation of the message.
    channel: &'a ChannelId,
    /// Equal to the message `ts` for a new message.
    event_ts: Ts,
    /// The message fields.
    #[serde(flatten)]
    message: &'a Message,
}

/// A `message` event for a new message (plain, bot, join, leave, thread reply).
pub fn message(message: &Message) -> Bytes {
    let event = MessageEvent {
        channel: &message.channel,
        event_ts: message.ts,
        message,
    };
    Bytes::from(serde_json::to_vec(&event).expect("messages always serialize"))
}

/// Returns a message as a JSON object, with its `channel`.
pub fn message_value(message: &Message) -> Value {
    let mut value = serde_json::to_value(message).expect("messages always serialize");
    if let Value::Object(map) = &mut value {
        map.insert("channel".into(), message.channel.as_str().into());
    }
    value
}

/// `message` with subtype `message_changed`, after an edit.
pub fn message_changed(updated: &Message, previous: &Message, event_ts: Ts) -> Bytes {
    encode(&json!({
        "type": "message",
        "subtype": "message_changed",
        "hidden": true,
        "channel": updated.channel,
        "ts": event_ts,
        "event_ts": event_ts,
        "message": updated,
        "previous_message": previous,
    }))
}

/// `message` with subtype `message_deleted`.
pub fn message_deleted(previous: &Message, event_ts: Ts) -> Bytes {
    encode(&json!({
        "type": "message",
        "subtype": "message_deleted",
        "hidden": true,
        "channel": previous.channel,
        "ts": event_ts,
        "deleted_ts": previous.ts,
        "event_ts": event_ts,
        "previous_message": previous,
    }))
}

/// `reaction_added` or `reaction_removed`.
pub fn reaction(added: bool, user: &UserId, name: &str, item: &Message, event_ts: Ts) -> Bytes {
    encode(&json!({
        "type": if added { "reaction_added" } else { "reaction_removed" },
        "user": user,
        "reaction": name,
        "item_user": item.user,
        "item": { "type": "message", "channel": item.channel, "ts": item.ts },
        "event_ts": event_ts,
    }))
}

/// `file_shared`, sent to a conversation's members when `message` shares the
/// file into it.
pub fn file_shared(file_id: &FileId, message: &Message) -> Bytes {
    encode(&json!({
        "type": "file_shared",
        "file_id": file_id,
        "user_id": message.user,
        "file": { "id": file_id },
        "channel_id": message.channel,
        "event_ts": message.ts,
    }))
}

/// `channel_created`, sent to the whole team for a new public channel.
pub fn channel_created(channel: &Channel) -> Bytes {
    encode(&json!({
        "type": "channel_created",
        "channel": {
            "id": channel.id,
            "name": channel.name,
            "created": channel.created.seconds(),
            "creator": channel.creator,
            "is_channel": true,
        },
        "event_ts": Ts::now(),
    }))
}

/// `channel_joined` (or `group_joined` for a private channel), sent to the user
/// who joined, with the full channel object.
pub fn channel_joined(channel: &Channel, viewer: &UserId) -> Bytes {
    let kind = if channel.kind.is_private() {
        "group_joined"
    } else {
        "channel_joined"
    };
    encode(&json!({ "type": kind, "channel": channel.to_api(true, viewer) }))
}

/// `channel_left` (or `group_left`), sent to the user who left.
pub fn channel_left(channel: &Channel) -> Bytes {
    let kind = if channel.kind.is_private() {
        "group_left"
    } else {
        "channel_left"
    };
    encode(&json!({ "type": kind, "channel": channel.id, "event_ts": Ts::now() }))
}

/// `channel_rename`.
pub fn channel_rename(channel: &Channel) -> Bytes {
    encode(&json!({
        "type": "channel_rename",
        "channel": {
            "id": channel.id,
            "name": channel.name,
            "created": channel.created.seconds(),
        },
        "event_ts": Ts::now(),
    }))
}

/// `channel_archive` or `channel_unarchive`.
pub fn channel_archive(archived: bool, channel: &ChannelId, user: &UserId) -> Bytes {
    encode(&json!({
        "type": if archived { "channel_archive" } else { "channel_unarchive" },
        "channel": channel,
        "user": user,
        "event_ts": Ts::now(),
    }))
}

/// `member_joined_channel`, to the channel's members.
pub fn member_joined(channel: &Channel, user: &UserId, inviter: Option<&UserId>) -> Bytes {
    let mut value = json!({
        "type": "member_joined_channel",
        "user": user,
        "channel": channel.id,
        "channel_type": if channel.kind.is_private() { "G" } else { "C" },
        "team": channel.team_id,
        "event_ts": Ts::now(),
    });
    if let Some(inviter) = inviter {
        value["inviter"] = inviter.as_str().into();
    }
    encode(&value)
}

/// `member_left_channel`, to the channel's members.
pub fn member_left(channel: &Channel, user: &UserId) -> Bytes {
    encode(&json!({
        "type": "member_left_channel",
        "user": user,
        "channel": channel.id,
        "channel_type": if channel.kind.is_private() { "G" } else { "C" },
        "team": channel.team_id,
        "event_ts": Ts::now(),
    }))
}

/// `user_typing`.
pub fn user_typing(channel: &ChannelId, user: &UserId) -> Bytes {
    encode(&json!({ "type": "user_typing", "channel": channel, "user": user }))
}

/// `presence_change` for users who all changed to the same presence, in Slack's
/// batched shape (`users`). A single user is also named in `user`, the shape
/// of clients that predate batching.
///
/// Every session gets its own list, so this runs once per session and window;
/// it writes the JSON directly instead of building a `Value` first.
pub fn presence_change(users: &[&UserId], active: bool) -> Bytes {
    let mut out = Vec::with_capacity(64 + users.len() * 16);
    out.extend_from_slice(br#"{"type":"presence_change","users":["#);
    for (index, user) in users.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_json_string(&mut out, user.as_str());
    }
    out.extend_from_slice(br#"],"presence":"#);
    out.extend_from_slice(if active { br#""active""# } else { br#""away""# });
    if let [user] = users {
        out.extend_from_slice(br#","user":"#);
        write_json_string(&mut out, user.as_str());
    }
    out.push(b'}');
    Bytes::from(out)
}

/// Appends `text` to `out` as a JSON string, quoted and escaped.
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec<u8> cannot fail");
}

/// `im_created`, to both users of a new direct message.
pub fn im_created(user: &UserId, channel: &Channel) -> Bytes {
    encode(&json!({
        "type": "im_created",
        "user": user,
        "channel": channel.to_api(true, user),
        "event_ts": Ts::now(),
    }))
}

/// Encodes `pong`, the reply to a client `ping`, echoing the ping's extra fields.
pub fn pong(reply_to: Option<&Value>, echo: &serde_json::Map<String, Value>) -> Bytes {
    let mut value = json!({ "type": "pong" });
    let map = value.as_object_mut().expect("json! object");
    for (key, field) in echo {
        if key != "type" && key != "id" {
            map.insert(key.clone(), field.clone());
        }
    }
    if let Some(id) = reply_to {
        map.insert("reply_to".into(), id.clone());
    }
    encode(&value)
}

/// The acknowledgement of a client `message` frame.
pub fn reply_ok(reply_to: &Value, message: &Message) -> Bytes {
    encode(&json!({
        "ok": true,
        "reply_to": reply_to,
        "ts": message.ts,
        "text": message.text,
        "channel": message.channel,
    }))
}

/// Encodes the error reply to a client frame, with Slack's error string in `msg`.
pub fn reply_error(reply_to: Option<&Value>, code: u32, error: &str) -> Bytes {
    let mut value = json!({
        "ok": false,
        "error": { "code": code, "msg": error },
    });
    if let Some(id) = reply_to {
        value["reply_to"] = id.clone();
    } else {
        value["type"] = "error".into();
    }
    encode(&value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TeamId;

    #[test]
    fn message_event_carries_channel_and_ts() {
        let message = Message::new(
            TeamId::from("T1"),
            ChannelId::from("C1"),
            UserId::from("U1"),
            "hello".into(),
            Ts(1_700_000_000_000_001),
        );
        let frame: Value = serde_json::from_slice(&self::message(&message)).unwrap();
        assert_eq!(frame["type"], "message");
        assert_eq!(frame["channel"], "C1");
        assert_eq!(frame["user"], "U1");
        assert_eq!(frame["text"], "hello");
        assert_eq!(frame["ts"], "1700000000.000001");
        assert_eq!(frame["event_ts"], "1700000000.000001");
    }

    #[test]
    fn error_reply_echoes_id() {
        let frame: Value =
            serde_json::from_slice(&reply_error(Some(&json!(7)), 2, "no_text")).unwrap();
        assert_eq!(frame["ok"], false);
        assert_eq!(frame["reply_to"], 7);
        assert_eq!(frame["error"]["msg"], "no_text");
    }

    #[test]
    fn pong_echoes_fields() {
        let ping: serde_json::Map<String, Value> =
            serde_json::from_value(json!({"id": 3, "type": "ping", "time": 42})).unwrap();
        let frame: Value = serde_json::from_slice(&pong(Some(&json!(3)), &ping)).unwrap();
        assert_eq!(frame["type"], "pong");
        assert_eq!(frame["reply_to"], 3);
        assert_eq!(frame["time"], 42);
    }

    #[test]
    fn presence_change_shapes() {
        let bob = UserId::from("UBOB");
        let carol = UserId::from("UCAROL");
        let single: Value = serde_json::from_slice(&presence_change(&[&bob], true)).unwrap();
        assert_eq!(
            single,
            json!({"type": "presence_change", "users": ["UBOB"], "presence": "active", "user": "UBOB"})
        );
        let pair: Value = serde_json::from_slice(&presence_change(&[&bob, &carol], false)).unwrap();
        assert_eq!(
            pair,
            json!({"type": "presence_change", "users": ["UBOB", "UCAROL"], "presence": "away"})
        );
    }
}

/// `user_change`, sent to the whole team when a user's role, flags or profile
/// changed; `user` has the `users.info` shape.
pub fn user_change(user: &User) -> Bytes {
    encode(&json!({ "type": "user_change", "user": user.to_api(), "event_ts": Ts::now() }))
}

/// `team_join`, sent to the whole team when a user (such as a guest) joins it.
pub fn team_join(user: &User) -> Bytes {
    encode(&json!({ "type": "team_join", "user": user.to_api(), "event_ts": Ts::now() }))
}
