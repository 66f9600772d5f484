"""Drive one conversation through a running Switchboard node with the real slack_sdk.

The script plays a whole channel conversation through `slack_sdk.WebClient` and
`slack_sdk.rtm_v2.RTMClient`, then checks the Web API responses, the RTM events
each client received, cursor pagination and the error codes for bad input.

Environment:
    SB_API_URL      Web API base URL, e.g. http://127.0.0.1:PORT/api/
    SB_ADMIN_TOKEN  user token (xoxp-) of the admin, who creates the channel and posts
    SB_USER_TOKEN   user token (xoxp-) of a second user, who reacts and listens over RTM
    SB_USER_ID      user id of that second user
    SB_BOT_TOKEN    bot token (xoxb-), whose RTM client checks `@rtm.on` dispatch

Exit status 0 means every check passed. Otherwise the script prints each failed
check and exits with status 1.
"""

import decimal
import json
import logging
import os
import sys
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.rtm_v2 import RTMClient

# Upper bound for waiting on one RTM event or frame, in seconds.
EVENT_TIMEOUT = 10.0

# Slack rejects message text longer than this many characters with msg_too_long.
MAX_TEXT_LENGTH = 40_000

PAGE_LIMIT = 4
NUMBERED_MESSAGES = 12

# Event types recorded by the bot's `@rtm.on` handlers.
BOT_EVENT_TYPES = (
    "hello",
    "message",
    "reaction_added",
    "reaction_removed",
    "member_joined_channel",
    "channel_created",
)


class Fatal(Exception):
    """A failure after which the rest of the conversation cannot run."""


class EventLog:
    """Thread-safe record of the RTM events one client received."""

    def __init__(self, name):
        self.name = name
        self._events = []
        self._condition = threading.Condition()

    def add(self, event):
        with self._condition:
            self._events.append(event)
            self._condition.notify_all()

    def wait_for(self, predicate, timeout=EVENT_TIMEOUT):
        """Return the first recorded event matching `predicate`, waiting up to `timeout` seconds, else None."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for event in self._events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)

    def recent(self, count=6):
        with self._condition:
            return list(self._events[-count:])


class Checks:
    """Counter of passed checks and list of failed ones."""

    def __init__(self):
        self.passed = 0
        self.failures = []

    def check(self, condition, description, detail=None):
        if condition:
            self.passed += 1
            return True
        message = description if detail is None else f"{description}: {detail}"
        self.failures.append(message)
        print(f"FAIL {message}", flush=True)
        return False

    def equal(self, actual, expected, description):
        return self.check(actual == expected, description, f"expected {expected!r}, got {actual!r}")

    def event(self, log, description, predicate):
        """Wait for an RTM event and record a failure naming it when it does not arrive."""
        event = log.wait_for(predicate)
        detail = f"no matching event within {EVENT_TIMEOUT:.0f} s; last events received: {describe(log.recent())}"
        self.check(event is not None, f"{log.name} received {description}", detail)
        return event


def describe(value, limit=1500):
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > limit:
        return text[:limit] + f"... ({len(text)} characters)"
    return text


def require_env(name):
    value = os.environ.get(name, "").strip()
    if not value:
        raise Fatal(f"environment variable {name} is missing or empty")
    return value


def call(description, method, **kwargs):
    """Call a WebClient method and raise Fatal with the full response when it fails."""
    try:
        return method(**kwargs)
    except SlackApiError as error:
        response = error.response
        raise Fatal(f"{description} failed: HTTP {response.status_code}, response {describe(response.data)}") from error
    except Exception as error:
        raise Fatal(f"{description} failed before a Slack response was parsed: {type(error).__name__}: {error}") from error


def expect_error(checks, description, expected_error, method, **kwargs):
    """Check that a WebClient call fails with `expected_error` in a Slack-shaped HTTP 200 response."""
    try:
        response = method(**kwargs)
    except SlackApiError as error:
        response = error.response
        checks.equal(response.get("error"), expected_error, f"{description} returns error")
        checks.equal(response.status_code, 200, f"{description} HTTP status")
        checks.equal(response.get("ok"), False, f"{description} ok field")
        return
    except Exception as error:
        checks.check(False, description, f"expected error {expected_error!r}, got {type(error).__name__}: {error}")
        return
    checks.check(False, description, f"expected error {expected_error!r}, got a successful response {describe(response.data)}")


def ts_key(ts):
    return decimal.Decimal(ts)


def is_message(event, channel_id, ts=None):
    if event.get("type") != "message" or event.get("channel") != channel_id:
        return False
    return ts is None or event.get("ts") == ts


def start_user_rtm(api_url, token, log):
    """Connect an RTM client that records every raw frame it receives.

    NOTE: slack_sdk 3.48.0 RTMClient skips `@rtm.on` handlers for an event whose
    `bot_id` equals its own, and for a user token its own bot_id is None, so those
    handlers never run for ordinary events. The raw `on_message_listeners` hook
    receives every text frame, so the user's client records through it.
    """

    def record_frame(text):
        try:
            log.add(json.loads(text))
        except ValueError:
            log.add({"unparsed_frame": text})

    client = RTMClient(token=token, base_url=api_url, on_message_listeners=[record_frame])
    client.connect()
    return client


def start_bot_rtm(api_url, token, log):
    """Connect an RTM client whose events arrive through `@rtm.on` handlers."""
    client = RTMClient(token=token, base_url=api_url)

    def record_event(_client, event):
        log.add(event)

    for event_type in BOT_EVENT_TYPES:
        client.on(event_type)(record_event)
    client.connect()
    return client


def stop_rtm(client):
    if client is None:
        return
    # close() alone leaves the session monitor free to reconnect.
    client.auto_reconnect_enabled = False
    try:
        client.close()
    except Exception as error:
        print(f"warning: closing an RTM client failed: {type(error).__name__}: {error}", file=sys.stderr)


def check_rtm_session(checks, name, client, log):
    """Check the handshake, the `hello` event and the WebSocket ping/pong of one RTM client."""
    checks.check(client.is_connected(), f"{name} RTM client is connected after connect()")
    checks.event(log, "hello", lambda e: e.get("type") == "hello")

    # The SDK sends a WebSocket ping frame right after the handshake and every
    # ping_interval seconds, and drops the connection after about four intervals
    # without a pong that echoes the ping payload.
    deadline = time.monotonic() + EVENT_TIMEOUT
    session = client.current_session
    while session is not None and session.last_ping_pong_time is None and time.monotonic() < deadline:
        time.sleep(0.1)
    checks.check(
        session is not None and session.last_ping_pong_time is not None,
        f"{name} RTM client received a pong frame echoing its ping payload",
    )


def check_auth(checks, api_url, admin_token, user_token, user_id, bot_token):
    admin = WebClient(base_url=api_url, token=admin_token)
    user = WebClient(base_url=api_url, token=user_token)
    bot = WebClient(base_url=api_url, token=bot_token)

    admin_auth = call("auth.test (admin token)", admin.auth_test)
    user_auth = call("auth.test (user token)", user.auth_test)
    bot_auth = call("auth.test (bot token)", bot.auth_test)

    checks.equal(user_auth.get("user_id"), user_id, "auth.test user_id for the user token")
    checks.check(str(admin_auth.get("user_id", "")).startswith("U"), "auth.test user_id for the admin token", describe(admin_auth.data))
    checks.check(admin_auth.get("user_id") != user_id, "admin and user tokens belong to different users")
    checks.equal(user_auth.get("team_id"), admin_auth.get("team_id"), "auth.test team_id is the same for admin and user")
    # RTMClient.connect() reads auth.test's bot_id to filter the bot's own events.
    checks.check(bool(bot_auth.get("bot_id")), "auth.test returns bot_id for the bot token", describe(bot_auth.data))
    checks.check(user_auth.get("bot_id") is None, "auth.test returns no bot_id for a user token", describe(user_auth.data))

    return admin, user, bot, admin_auth, bot_auth


def check_rtm_connect_shape(checks, user, user_id, team_id):
    response = call("rtm.connect (user token)", user.rtm_connect)
    url = response.get("url") or ""
    checks.check(url.startswith("ws://127.0.0.1:") or url.startswith("ws://localhost:"), "rtm.connect url is a loopback ws:// URL", url)
    checks.equal((response.get("self") or {}).get("id"), user_id, "rtm.connect self.id")
    checks.check(bool((response.get("self") or {}).get("name")), "rtm.connect self.name is present", describe(response.data))
    checks.equal((response.get("team") or {}).get("id"), team_id, "rtm.connect team.id")
    checks.check(bool((response.get("team") or {}).get("domain")), "rtm.connect team.domain is present", describe(response.data))


def check_bad_auth(checks, api_url):
    wrong_token = WebClient(base_url=api_url, token="xoxp-0000000000-not-a-real-token")
    expect_error(checks, "auth.test with a wrong token", "invalid_auth", wrong_token.auth_test)
    no_token = WebClient(base_url=api_url)
    expect_error(checks, "auth.test without a token", "not_authed", no_token.auth_test)


def run(checks):
    api_url = require_env("SB_API_URL")
    admin_token = require_env("SB_ADMIN_TOKEN")
    user_token = require_env("SB_USER_TOKEN")
    user_id = require_env("SB_USER_ID")
    bot_token = require_env("SB_BOT_TOKEN")

    admin, user, _bot, admin_auth, bot_auth = check_auth(checks, api_url, admin_token, user_token, user_id, bot_token)
    admin_id = admin_auth["user_id"]
    team_id = admin_auth["team_id"]
    bot_user_id = bot_auth["user_id"]

    check_rtm_connect_shape(checks, user, user_id, team_id)
    check_bad_auth(checks, api_url)

    user_log = EventLog("user RTM client")
    bot_log = EventLog("bot RTM client (@rtm.on handlers)")
    rtm_clients = []
    try:
        user_rtm = start_user_rtm(api_url, user_token, user_log)
        rtm_clients.append(user_rtm)
        bot_rtm = start_bot_rtm(api_url, bot_token, bot_log)
        rtm_clients.append(bot_rtm)
        check_rtm_session(checks, "user", user_rtm, user_log)
        check_rtm_session(checks, "bot", bot_rtm, bot_log)
        user_session_id = user_rtm.session_id()

        run_conversation(checks, admin, user, user_rtm, user_log, bot_log, admin_id, user_id, bot_user_id)

        checks.equal(user_rtm.session_id(), user_session_id, "user RTM client kept one WebSocket session (no reconnect)")
        checks.check(user_rtm.is_connected(), "user RTM client is still connected at the end")
    finally:
        for client in rtm_clients:
            stop_rtm(client)


def run_conversation(checks, admin, user, user_rtm, user_log, bot_log, admin_id, user_id, bot_user_id):
    # Channel setup: create, then invite both listeners.
    channel_name = f"sdk-compat-{os.getpid()}-{int(time.time())}"
    created = call("conversations.create", admin.conversations_create, name=channel_name)
    channel = created.get("channel") or {}
    channel_id = channel.get("id", "")
    checks.check(channel_id.startswith("C"), "conversations.create channel.id starts with C", describe(created.data))
    checks.equal(channel.get("name"), channel_name, "conversations.create channel.name")
    checks.equal(channel.get("is_channel"), True, "conversations.create channel.is_channel")
    if not channel_id:
        raise Fatal(f"conversations.create returned no channel id: {describe(created.data)}")
    for log in (user_log, bot_log):
        checks.event(
            log,
            "channel_created",
            lambda e: e.get("type") == "channel_created" and (e.get("channel") or {}).get("id") == channel_id,
        )

    invited = call("conversations.invite", admin.conversations_invite, channel=channel_id, users=[user_id, bot_user_id])
    checks.equal((invited.get("channel") or {}).get("id"), channel_id, "conversations.invite channel.id")
    checks.event(
        user_log,
        "member_joined_channel for the user",
        lambda e: e.get("type") == "member_joined_channel" and e.get("channel") == channel_id and e.get("user") == user_id,
    )
    checks.event(
        bot_log,
        "member_joined_channel for the bot",
        lambda e: e.get("type") == "member_joined_channel" and e.get("channel") == channel_id and e.get("user") == bot_user_id,
    )
    checks.event(
        user_log,
        "message subtype channel_join for the user",
        lambda e: is_message(e, channel_id) and e.get("subtype") == "channel_join" and e.get("user") == user_id,
    )

    # Message length limit: exactly the maximum is accepted, one more character is not.
    expect_error(
        checks,
        f"chat.postMessage with {MAX_TEXT_LENGTH + 1} characters",
        "msg_too_long",
        admin.chat_postMessage,
        channel=channel_id,
        text="a" * (MAX_TEXT_LENGTH + 1),
    )
    longest = call(
        f"chat.postMessage with {MAX_TEXT_LENGTH} characters", admin.chat_postMessage, channel=channel_id, text="b" * MAX_TEXT_LENGTH
    )
    longest_ts = longest["ts"]
    long_event = checks.event(user_log, f"the {MAX_TEXT_LENGTH}-character message", lambda e: is_message(e, channel_id, longest_ts))
    if long_event is not None:
        checks.equal(len(long_event.get("text") or ""), MAX_TEXT_LENGTH, "length of the long message text received over RTM")

    # Unknown channels.
    expect_error(checks, "conversations.history of an unknown channel", "channel_not_found", user.conversations_history, channel="C0UNKNOWN00")
    expect_error(checks, "chat.postMessage to an unknown channel", "channel_not_found", admin.chat_postMessage, channel="C0UNKNOWN00", text="lost")

    # Parent message with non-ASCII text.
    parent_text = "Parent message: grüße, 東京, ✓"
    parent = call("chat.postMessage (parent)", admin.chat_postMessage, channel=channel_id, text=parent_text)
    parent_ts = parent["ts"]
    checks.equal(parent.get("channel"), channel_id, "chat.postMessage channel")
    checks.equal((parent.get("message") or {}).get("text"), parent_text, "chat.postMessage message.text")
    checks.equal((parent.get("message") or {}).get("user"), admin_id, "chat.postMessage message.user")
    for log in (user_log, bot_log):
        event = checks.event(log, "the parent message", lambda e: is_message(e, channel_id, parent_ts) and "subtype" not in e)
        if event is not None:
            checks.equal(event.get("text"), parent_text, f"{log.name}: parent message text")
            checks.equal(event.get("user"), admin_id, f"{log.name}: parent message user")

    # Two thread replies. The second is deleted below.
    reply_ts = []
    for number, text in enumerate(("First reply", "Second reply"), start=1):
        reply = call(f"chat.postMessage (thread reply {number})", admin.chat_postMessage, channel=channel_id, text=text, thread_ts=parent_ts)
        reply_ts.append(reply["ts"])
        checks.equal((reply.get("message") or {}).get("thread_ts"), parent_ts, f"chat.postMessage reply {number} message.thread_ts")
        for log in (user_log, bot_log):
            ts = reply["ts"]
            checks.event(
                log,
                f"thread reply {number} with thread_ts of the parent",
                lambda e: is_message(e, channel_id, ts) and e.get("thread_ts") == parent_ts,
            )

    # Reactions by the second user: add two, remove one.
    for name in ("thumbsup", "eyes"):
        call(f"reactions.add {name}", user.reactions_add, channel=channel_id, name=name, timestamp=parent_ts)
        for log in (user_log, bot_log):
            checks.event(
                log,
                f"reaction_added {name}",
                lambda e: e.get("type") == "reaction_added"
                and e.get("reaction") == name
                and e.get("user") == user_id
                and (e.get("item") or {}).get("ts") == parent_ts
                and (e.get("item") or {}).get("channel") == channel_id,
            )
    call("reactions.remove eyes", user.reactions_remove, channel=channel_id, name="eyes", timestamp=parent_ts)
    for log in (user_log, bot_log):
        checks.event(
            log,
            "reaction_removed eyes",
            lambda e: e.get("type") == "reaction_removed" and e.get("reaction") == "eyes" and (e.get("item") or {}).get("ts") == parent_ts,
        )

    # Edit the parent.
    edited_text = "Parent message, edited: ✓✓"
    updated = call("chat.update", admin.chat_update, channel=channel_id, ts=parent_ts, text=edited_text)
    checks.equal(updated.get("ts"), parent_ts, "chat.update ts")
    checks.equal(updated.get("text"), edited_text, "chat.update text")
    for log in (user_log, bot_log):
        event = checks.event(
            log,
            "message_changed for the parent",
            lambda e: is_message(e, channel_id)
            and e.get("subtype") == "message_changed"
            and (e.get("message") or {}).get("ts") == parent_ts,
        )
        if event is not None:
            checks.equal(event["message"].get("text"), edited_text, f"{log.name}: message_changed message.text")
            checks.equal((event.get("previous_message") or {}).get("text"), parent_text, f"{log.name}: message_changed previous_message.text")

    # Delete the second reply.
    deleted = call("chat.delete", admin.chat_delete, channel=channel_id, ts=reply_ts[1])
    checks.equal(deleted.get("ts"), reply_ts[1], "chat.delete ts")
    checks.equal(deleted.get("channel"), channel_id, "chat.delete channel")
    for log in (user_log, bot_log):
        checks.event(
            log,
            "message_deleted for the second reply",
            lambda e: is_message(e, channel_id) and e.get("subtype") == "message_deleted" and e.get("deleted_ts") == reply_ts[1],
        )

    # Frames the client sends over the socket itself.
    user_rtm.send({"id": 1, "type": "ping"})
    pong = checks.event(user_log, "pong for the RTM ping with id 1", lambda e: e.get("reply_to") == 1)
    if pong is not None:
        checks.equal(pong.get("type"), "pong", "reply to the RTM ping: type")
    rtm_text = "Sent over the RTM socket"
    user_rtm.send({"id": 2, "type": "message", "channel": channel_id, "text": rtm_text})
    ack = checks.event(user_log, "acknowledgement of the RTM message with id 2", lambda e: e.get("reply_to") == 2)
    rtm_ts = None
    if ack is not None:
        checks.equal(ack.get("ok"), True, "acknowledgement of the RTM message: ok")
        rtm_ts = ack.get("ts")
        checks.check(bool(rtm_ts), "acknowledgement of the RTM message carries ts", describe(ack))
        checks.event(bot_log, "the message the user sent over RTM", lambda e: is_message(e, channel_id, rtm_ts) and e.get("user") == user_id)

    # Enough top-level messages for at least three pages.
    numbered_ts = []
    for number in range(1, NUMBERED_MESSAGES + 1):
        posted = call(f"chat.postMessage (page message {number})", admin.chat_postMessage, channel=channel_id, text=f"Page message {number:02}")
        numbered_ts.append(posted["ts"])

    # Posting order: the long message, the parent, the RTM message, then the numbered ones.
    expected_top_level = [longest_ts, parent_ts] + ([rtm_ts] if rtm_ts else []) + numbered_ts
    check_history(checks, user, channel_id, expected_top_level, parent_ts, edited_text, reply_ts, user_id)
    check_replies(checks, user, channel_id, parent_ts, reply_ts)


def check_history(checks, user, channel_id, expected_top_level, parent_ts, edited_text, reply_ts, user_id):
    """Page through conversations.history with a small limit and check order and completeness."""
    pages = []
    try:
        for page in user.conversations_history(channel=channel_id, limit=PAGE_LIMIT):
            pages.append(
                {
                    "messages": list(page.get("messages") or []),
                    "has_more": page.get("has_more"),
                    "next_cursor": (page.get("response_metadata") or {}).get("next_cursor"),
                }
            )
            if len(pages) > 50:
                checks.check(False, "conversations.history pagination ends", "more than 50 pages; the cursor does not advance")
                break
    except SlackApiError as error:
        raise Fatal(
            f"conversations.history page {len(pages) + 1} failed: HTTP {error.response.status_code}, response {describe(error.response.data)}"
        ) from error

    checks.check(len(pages) >= 3, f"conversations.history with limit={PAGE_LIMIT} returns at least 3 pages", f"got {len(pages)}")
    for index, page in enumerate(pages, start=1):
        checks.check(len(page["messages"]) <= PAGE_LIMIT, f"history page {index} holds at most {PAGE_LIMIT} messages", f"got {len(page['messages'])}")
        last = index == len(pages)
        checks.equal(bool(page["has_more"]), not last, f"history page {index} has_more")
        if not last:
            checks.check(bool(page["next_cursor"]), f"history page {index} has response_metadata.next_cursor")

    messages = [message for page in pages for message in page["messages"]]
    all_ts = [message.get("ts") for message in messages]
    checks.equal(len(set(all_ts)), len(all_ts), "history pages hold no duplicate messages")
    try:
        keys = [ts_key(ts) for ts in all_ts]
        checks.check(all(a > b for a, b in zip(keys, keys[1:])), "history is ordered newest first", describe(all_ts))
    except (decimal.InvalidOperation, TypeError):
        checks.check(False, "every history message has a numeric ts", describe(all_ts))

    top_level_ts = [message.get("ts") for message in messages if not message.get("subtype")]
    checks.equal(top_level_ts, list(reversed(expected_top_level)), "top-level messages across history pages")
    for ts in reply_ts:
        checks.check(ts not in all_ts, f"thread reply {ts} is absent from channel history")

    parent = next((message for message in messages if message.get("ts") == parent_ts), None)
    if not checks.check(parent is not None, "history contains the parent message"):
        return
    checks.equal(parent.get("text"), edited_text, "history parent text after chat.update")
    checks.check(bool(parent.get("edited")), "history parent carries the edited field", describe(parent))
    checks.equal(parent.get("thread_ts"), parent_ts, "history parent thread_ts")
    checks.equal(parent.get("reply_count"), 1, "history parent reply_count after one reply was deleted")
    reactions = [(r.get("name"), r.get("users"), r.get("count")) for r in parent.get("reactions") or []]
    checks.equal(reactions, [("thumbsup", [user_id], 1)], "history parent reactions")


def check_replies(checks, user, channel_id, parent_ts, reply_ts):
    replies = call("conversations.replies", user.conversations_replies, channel=channel_id, ts=parent_ts)
    messages = replies.get("messages") or []
    checks.equal([message.get("ts") for message in messages], [parent_ts, reply_ts[0]], "conversations.replies returns the parent then the remaining reply")
    if len(messages) == 2:
        checks.equal(messages[1].get("thread_ts"), parent_ts, "conversations.replies reply thread_ts")
        checks.equal(messages[1].get("text"), "First reply", "conversations.replies reply text")


def main():
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    checks = Checks()
    try:
        run(checks)
    except Fatal as error:
        checks.failures.append(str(error))
        print(f"FAIL {error}", flush=True)

    if checks.failures:
        print(f"conversation: {checks.passed} checks passed, {len(checks.failures)} failed:", flush=True)
        for failure in checks.failures:
            print(f"  - {failure}", flush=True)
        return 1
    print(f"conversation: {checks.passed} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
