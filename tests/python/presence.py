"""Check presence and do not disturb on a running Switchboard node with the real slack_sdk.

A bot's `slack_sdk.rtm_v2.RTMClient` subscribes to a user's presence with the
RTM `presence_sub` frame. The user connects two RTM clients (two devices) and
closes them one after the other: the bot must see the user become active once
and away once. Then `users.getPresence`, `users.setPresence` and the `dnd.*`
methods are checked through `slack_sdk.WebClient`.

The node must run with `--presence-batch-ms 0` and the default idle time.

Environment:
    SB_API_URL      Web API base URL, e.g. http://127.0.0.1:PORT/api/
    SB_ADMIN_TOKEN  user token (xoxp-) of the admin
    SB_BOT_TOKEN    bot token (xoxb-) of the subscriber
    SB_USER_TOKEN   user token (xoxp-) of the user whose presence changes
    SB_USER_ID      user id of that user

Exit status 0 means every check passed. Otherwise the script prints each failed
check and exits with status 1.
"""

import os
import sys
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.rtm_v2 import RTMClient

# Upper bound for waiting on one RTM event or one state change, in seconds.
EVENT_TIMEOUT = 10.0


class EventLog:
    """Thread-safe record of the RTM events the bot's handlers received."""

    def __init__(self):
        self._events = []
        self._condition = threading.Condition()

    def add(self, event):
        with self._condition:
            self._events.append(event)
            self._condition.notify_all()

    def wait_for(self, predicate):
        """Return the first event matching `predicate`, or None after EVENT_TIMEOUT."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        with self._condition:
            while True:
                for event in self._events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)

    def matching(self, predicate):
        with self._condition:
            return [event for event in self._events if predicate(event)]


failures = []


def check(condition, description):
    if not condition:
        failures.append(description)
        print(f"FAIL {description}", flush=True)


def start_rtm(api_url, token, log=None, event_types=()):
    client = RTMClient(token=token, base_url=api_url)
    def record_event(_client, event):
        log.add(event)

    for event_type in event_types:
        client.on(event_type)(record_event)
    client.connect()
    return client


def stop_rtm(client):
    # close() alone leaves the session monitor free to reconnect.
    client.auto_reconnect_enabled = False
    client.close()


def presence_of(user_id):
    """Return a predicate for a presence_change naming `user_id` with a given presence."""

    def matches(presence):
        return lambda event: (
            event.get("type") == "presence_change"
            and user_id in event.get("users", [])
            and event.get("presence") == presence
        )

    return matches


def wait_until(read, predicate):
    """Call `read` until its result satisfies `predicate` or EVENT_TIMEOUT passes; return the last result."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while True:
        value = read()
        if predicate(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def main():
    api_url = os.environ["SB_API_URL"]
    admin = WebClient(base_url=api_url, token=os.environ["SB_ADMIN_TOKEN"])
    user = WebClient(base_url=api_url, token=os.environ["SB_USER_TOKEN"])
    user_id = os.environ["SB_USER_ID"]
    user_presence = presence_of(user_id)
    is_user_change = lambda event: user_id in event.get("users", [])

    log = EventLog()
    bot_rtm = start_rtm(api_url, os.environ["SB_BOT_TOKEN"], log, ("presence_change", "pong"))
    bot_rtm.send({"type": "presence_sub", "ids": [user_id]})
    bot_rtm.send({"type": "ping", "id": 1})
    check(log.wait_for(lambda e: e.get("type") == "pong") is not None, "the bot's ping was answered")

    # Two devices: the user becomes active once.
    desktop = start_rtm(api_url, os.environ["SB_USER_TOKEN"])
    phone = start_rtm(api_url, os.environ["SB_USER_TOKEN"])
    check(log.wait_for(user_presence("active")) is not None, "the bot saw the user become active")
    body = wait_until(lambda: user.users_getPresence(user=user_id), lambda b: b["connection_count"] == 2)
    check(body["connection_count"] == 2, f"two devices are counted: {body.data}")

    # Closing one device keeps the user active; closing both makes them away.
    stop_rtm(desktop)
    body = wait_until(lambda: user.users_getPresence(user=user_id), lambda b: b["connection_count"] == 1)
    check(body["connection_count"] == 1, f"one device is left: {body.data}")
    check(body["presence"] == "active", f"one device keeps the user active: {body.data}")
    stop_rtm(phone)
    check(log.wait_for(user_presence("away")) is not None, "the bot saw the user go away")
    bot_rtm.send({"type": "ping", "id": 2})
    check(log.wait_for(lambda e: e.get("reply_to") == 2) is not None, "the bot's second ping was answered")
    changes = log.matching(is_user_change)
    check(len(changes) == 2, f"the bot saw exactly two changes of the user: {changes}")

    # presence_query returns the current presence.
    bot_rtm.send({"type": "presence_query", "ids": [user_id]})
    wait_until(lambda: len(log.matching(is_user_change)), lambda count: count == 3)
    changes = log.matching(is_user_change)
    check(len(changes) == 3 and changes[-1]["presence"] == "away", f"presence_query answered away: {changes}")

    # Manual presence, seen by the user and, without details, by others.
    user.users_setPresence(presence="away")
    body = user.users_getPresence(user=user_id)
    check(body["manual_away"] is True, f"setPresence away sets manual_away: {body.data}")
    check(body["online"] is False, f"no device is online: {body.data}")
    user.users_setPresence(presence="auto")
    body = admin.users_getPresence(user=user_id)
    check(body["presence"] == "away", f"others see the presence: {body.data}")
    check("manual_away" not in body.data, f"others do not see the details: {body.data}")
    try:
        user.users_setPresence(presence="busy")
        check(False, "setPresence busy was accepted")
    except SlackApiError as error:
        check(error.response["error"] == "invalid_presence", f"setPresence busy: {error.response.data}")

    # Do not disturb.
    snooze = user.dnd_setSnooze(num_minutes=5)
    check(snooze["snooze_enabled"] is True, f"setSnooze enables the snooze: {snooze.data}")
    info = user.dnd_info()
    check(info["snooze_enabled"] is True, f"dnd.info shows the snooze: {info.data}")
    check(info["snooze_endtime"] == snooze["snooze_endtime"], f"dnd.info has the end time: {info.data}")
    user.dnd_endSnooze()
    info = user.dnd_info()
    check(info["snooze_enabled"] is False, f"endSnooze ends the snooze: {info.data}")

    stop_rtm(bot_rtm)


if __name__ == "__main__":
    main()
    if failures:
        print(f"{len(failures)} presence checks failed", flush=True)
        sys.exit(1)
    print("all presence checks passed", flush=True)
