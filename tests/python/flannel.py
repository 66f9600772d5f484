"""Check the Flannel boot methods on a running Switchboard node with the real slack_sdk.

`WebClient.rtm_start` must return the full team (every user, the visible
conversations with their members and latest message) and a socket URL;
`client.boot` (through `WebClient.api_call`) must return only the caller, the
team and the caller's own conversations with their unread counts, and no user
list. The light boot's unread count must follow a message posted while the
user was away and drop to 0 after `conversations.mark`. `users.infoBatch`,
`users.search` and `conversations.search` answer the lookups a light client
makes instead of loading everyone. Last, an `RTMClient` connects and receives
a message posted after the boot.

Environment:
    SB_API_URL      Web API base URL, e.g. http://127.0.0.1:PORT/api/
    SB_ADMIN_TOKEN  user token (xoxp-) of the admin
    SB_USER_TOKEN   user token (xoxp-) of a second user
    SB_USER_ID      user id of that user
    SB_USER_NAME    user name of that user

Exit status 0 means every check passed. Otherwise the script prints each failed
check and exits with status 1.
"""

import json
import os
import sys
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.rtm_v2 import RTMClient

# Upper bound for waiting on one RTM event or one state change, in seconds.
EVENT_TIMEOUT = 10.0

failures = []


def check(condition, description):
    if not condition:
        failures.append(description)
        print(f"FAIL {description}", flush=True)


def wait_until(read, predicate):
    """Call `read` until its result satisfies `predicate` or EVENT_TIMEOUT passes; return the last result."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while True:
        value = read()
        if predicate(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def boot_channel(client, channel_id):
    """Return the `client.boot` entry of one conversation, or None."""
    body = client.api_call("client.boot")
    return next((c for c in body["channels"] if c["id"] == channel_id), None)


def main():
    api_url = os.environ["SB_API_URL"]
    admin = WebClient(base_url=api_url, token=os.environ["SB_ADMIN_TOKEN"])
    user = WebClient(base_url=api_url, token=os.environ["SB_USER_TOKEN"])
    user_id = os.environ["SB_USER_ID"]
    user_name = os.environ["SB_USER_NAME"]

    # A private channel the user is in and one they are not in.
    mine = admin.conversations_create(name="flannel-mine", is_private=True)["channel"]["id"]
    admin.conversations_invite(channel=mine, users=user_id)
    hidden = admin.conversations_create(name="flannel-hidden", is_private=True)["channel"]["id"]
    admin.chat_postMessage(channel=mine, text="before the boot")

    # rtm.start: the whole team.
    full = user.rtm_start()
    check(full["url"].startswith("ws://"), f"rtm.start returns a socket URL: {full.get('url')}")
    check(full["self"]["id"] == user_id, f"rtm.start names the caller: {full.get('self')}")
    user_ids = {u["id"] for u in full["users"]}
    check(user_id in user_ids and len(user_ids) >= 2, f"rtm.start lists every user: {sorted(user_ids)}")
    groups = {g["id"]: g for g in full["groups"]}
    check(mine in groups, "rtm.start lists the private channel the user is in")
    check(hidden not in groups, "rtm.start leaves out a private channel the user is not in")
    if mine in groups:
        check(user_id in groups[mine]["members"], f"rtm.start lists the members: {groups[mine]}")
        latest = groups[mine].get("latest") or {}
        check(latest.get("text") == "before the boot", f"rtm.start carries the latest message: {latest}")

    # client.boot: only the caller's own conversations, no user list.
    light = user.api_call("client.boot")
    check(light["ok"] is True, f"client.boot succeeds: {light.data}")
    check(light["url"].startswith("ws://"), f"client.boot returns a socket URL: {light.get('url')}")
    check(light["self"]["id"] == user_id, f"client.boot names the caller: {light.get('self')}")
    check("users" not in light.data, "client.boot sends no user list")
    light_ids = {c["id"] for c in light["channels"]}
    check(mine in light_ids and hidden not in light_ids, f"client.boot lists own conversations: {light_ids}")
    check(len(light.data) < len(full.data) or len(str(light.data)) < len(str(full.data)),
          "client.boot is lighter than rtm.start")

    # Unread counts in the light boot follow the message-post job.
    entry = wait_until(lambda: boot_channel(user, mine), lambda c: c is not None and c["unread_count"] == 1)
    check(entry is not None and entry["unread_count"] == 1, f"one unread message in the boot: {entry}")
    admin.chat_postMessage(channel=mine, text=f"<@{user_id}> a mention")
    entry = wait_until(lambda: boot_channel(user, mine), lambda c: c is not None and c["unread_count"] == 2)
    check(entry is not None and entry["unread_count"] == 2, f"two unread messages in the boot: {entry}")
    check(entry is not None and entry["mention_count"] == 1, f"one mention in the boot: {entry}")
    newest = admin.conversations_history(channel=mine, limit=1)["messages"][0]["ts"]
    user.conversations_mark(channel=mine, ts=newest)
    entry = boot_channel(user, mine)
    check(entry is not None and entry["unread_count"] == 0, f"no unread message after marking: {entry}")
    check(entry is not None and entry["last_read"] == newest, f"the boot carries last_read: {entry}")

    # The lookups a light client makes instead of loading every user.
    admin_id = admin.auth_test()["user_id"]
    batch = user.api_call("users.infoBatch", params={"users": f"{admin_id},{user_id}"})
    check(sorted(u["id"] for u in batch["users"]) == sorted([admin_id, user_id]),
          f"users.infoBatch returns both users: {batch.data}")
    found = user.api_call("users.search", params={"query": user_name[:4]})
    check(any(m["id"] == user_id for m in found["members"]), f"users.search finds the user: {found.data}")
    channels = user.api_call("conversations.search", params={"query": "flannel"})
    names = {c["id"] for c in channels["channels"]}
    check(mine in names and hidden not in names, f"conversations.search shows only visible channels: {names}")
    try:
        user.api_call("users.infoBatch", params={"users": "not-an-id"})
        check(False, "users.infoBatch rejects a malformed id")
    except SlackApiError as error:
        check(error.response["ok"] is False, f"users.infoBatch error in Slack's shape: {error.response.data}")

    # After the boot, the socket delivers new messages.
    hello = threading.Event()
    received = threading.Event()

    # A user token's RTMClient skips `@rtm.on` handlers (it compares each
    # event's bot_id with its own, None), so the raw frame hook is used.
    def on_frame(text):
        event = json.loads(text)
        if event.get("type") == "hello":
            hello.set()
        if event.get("type") == "message" and event.get("text") == "after the boot":
            received.set()

    rtm = RTMClient(
        token=os.environ["SB_USER_TOKEN"], base_url=api_url, on_message_listeners=[on_frame]
    )
    rtm.connect()
    check(hello.wait(EVENT_TIMEOUT), "the RTM client received hello")
    admin.chat_postMessage(channel=mine, text="after the boot")
    check(received.wait(EVENT_TIMEOUT), "the RTM client received the message posted after the boot")
    rtm.auto_reconnect_enabled = False
    rtm.close()

    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("every check passed", flush=True)


if __name__ == "__main__":
    main()
