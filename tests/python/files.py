"""Upload a file with the real slack_sdk's files_upload_v2 and check who may read it.

The admin uploads into a private channel that the bot is a member of. The bot's
RTM socket must receive `file_shared` and the message that carries the file,
and the bot must download the same bytes from `url_private`. A user outside the
channel gets `file_not_found` from files.info and 404 from the download URL.
The older `files.upload` works with a multipart file and with `content`. An
upload over the node's size limit (started with --max-file-bytes) fails with
`file_too_large` and leaves no file behind.

Environment:
    SB_API_URL      Web API base URL, e.g. http://127.0.0.1:PORT/api/
    SB_ADMIN_TOKEN  user token (xoxp-) of the admin, who uploads
    SB_BOT_TOKEN    bot token (xoxb-) of the other channel member
    SB_USER_TOKEN   user token (xoxp-) of a user outside the channel
    SB_MAX_FILE_BYTES  the node's upload limit, in bytes

Exit status 0 means every check passed; otherwise the script prints each
failed check and exits with status 1.
"""

import io
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.rtm_v2 import RTMClient

# Upper bound for waiting on one RTM event, in seconds.
EVENT_TIMEOUT = 10.0


class FrameLog:
    """Thread-safe record of the frames one RTM client received."""

    def __init__(self):
        self._frames = []
        self._condition = threading.Condition()

    def add(self, text):
        with self._condition:
            self._frames.append(json.loads(text))
            self._condition.notify_all()

    def wait_for(self, predicate):
        """Return the first frame matching `predicate`, or None after EVENT_TIMEOUT."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        with self._condition:
            while True:
                for frame in self._frames:
                    if predicate(frame):
                        return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)


failures = []


def check(condition, name, detail=""):
    print(("ok   " if condition else "FAIL ") + name + (f": {detail}" if detail and not condition else ""))
    if not condition:
        failures.append(name)


def api_error(call):
    """Run `call`; return the Slack error string it raised, or None on success."""
    try:
        call()
    except SlackApiError as error:
        return error.response.get("error")
    return None


def download(url, token):
    """GET `url` with a bearer token; return (status, body bytes)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=EVENT_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main():
    api_url = os.environ["SB_API_URL"]
    bot_token = os.environ["SB_BOT_TOKEN"]
    admin = WebClient(base_url=api_url, token=os.environ["SB_ADMIN_TOKEN"])
    bot = WebClient(base_url=api_url, token=bot_token)
    outsider = WebClient(base_url=api_url, token=os.environ["SB_USER_TOKEN"])
    limit = int(os.environ["SB_MAX_FILE_BYTES"])

    bot_id = bot.auth_test()["user_id"]
    channel = admin.conversations_create(name="sdk-files", is_private=True)["channel"]["id"]
    admin.conversations_invite(channel=channel, users=bot_id)

    log = FrameLog()
    rtm = RTMClient(token=bot_token, base_url=api_url, on_message_listeners=[log.add])
    rtm.connect()
    try:
        check(log.wait_for(lambda f: f.get("type") == "hello") is not None, "bot socket says hello")

        content = bytes(range(256)) * 100
        response = admin.files_upload_v2(
            channel=channel, content=content, filename="data.bin", title="Data", initial_comment="here it is"
        )
        file = response["file"]
        file_id = file["id"]
        check(file.get("size") == len(content), "completed file has the uploaded size", file)
        check(file.get("title") == "Data", "completed file keeps the title", file)

        shared = log.wait_for(lambda f: f.get("type") == "file_shared" and f.get("file_id") == file_id)
        check(shared is not None and shared.get("channel_id") == channel, "bot receives file_shared", shared)
        message = log.wait_for(
            lambda f: f.get("type") == "message" and any(x.get("id") == file_id for x in f.get("files", []))
        )
        check(message is not None, "bot receives the message with the file")
        check(message is not None and message.get("text") == "here it is", "message carries the initial comment", message)

        status, body = download(file["url_private"], bot_token)
        check(status == 200 and body == content, "bot downloads the same bytes", f"status {status}, {len(body)} bytes")
        check(bot.files_info(file=file_id)["file"]["id"] == file_id, "bot reads files.info")

        error = api_error(lambda: outsider.files_info(file=file_id))
        check(error == "file_not_found", "non-member gets file_not_found from files.info", error)
        status, _ = download(file["url_private"], os.environ["SB_USER_TOKEN"])
        check(status == 404, "non-member gets 404 from the download URL", status)

        # The older one-request files.upload: multipart with a file, and a form with content.
        legacy_bytes = bytes(range(200)) * 10
        legacy = admin.files_upload(channels=channel, file=io.BytesIO(legacy_bytes), filename="legacy.bin")
        check(legacy["file"]["size"] == len(legacy_bytes), "multipart files.upload stores the bytes", legacy["file"])
        status, body = download(legacy["file"]["url_private"], bot_token)
        check(status == 200 and body == legacy_bytes, "bot downloads the multipart upload", f"status {status}")
        snippet = admin.files_upload(channels=channel, content="hello from content", filename="note.txt")
        check(snippet["file"]["filetype"] == "text", "files.upload with content makes a text file", snippet["file"])
        status, body = download(snippet["file"]["url_private"], bot_token)
        check(body == b"hello from content", "bot downloads the content upload", body[:40])

        error = api_error(
            lambda: admin.files_upload_v2(channel=channel, content=b"x" * (limit + 1), filename="big.bin")
        )
        check(error == "file_too_large", "upload over the limit is refused", error)
        listed = admin.files_list(channel=channel)
        check(listed["paging"]["total"] == 3, "the refused upload is not listed", listed["paging"])
        error = api_error(
            lambda: admin.files_upload(channels=channel, file=io.BytesIO(b"y" * (limit + 1)), filename="big2.bin")
        )
        check(error == "file_too_large", "multipart upload over the limit is refused", error)
        listed = admin.files_list(channel=channel)
        check(listed["paging"]["total"] == 3, "the refused multipart upload is not listed", listed["paging"])
    finally:
        rtm.auto_reconnect_enabled = False
        rtm.close()

    if failures:
        print(f"{len(failures)} check(s) failed: {failures}")
        sys.exit(1)
    print("all file checks passed")


if __name__ == "__main__":
    main()
