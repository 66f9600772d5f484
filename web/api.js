// Web API calls from the page. The browser sends the HttpOnly session cookie;
// the x-switchboard-client header is what lets the node accept that cookie
// (a cross-site form cannot set it).

const CLIENT_HEADER = { "x-switchboard-client": "web" };

/** Error for an `ok: false` response of the Web API. `code` is Slack's error string. */
export class ApiError extends Error {
  constructor(method, code) {
    super(`${method} failed: ${code}`);
    this.method = method;
    this.code = code;
  }
}

/** Calls a Web API method with JSON arguments; returns the body or throws ApiError. */
export async function call(method, args = {}) {
  let response;
  try {
    response = await fetch(`/api/${method}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json; charset=utf-8", ...CLIENT_HEADER },
      body: JSON.stringify(args),
    });
  } catch (error) {
    throw new ApiError(method, "network_error");
  }
  let body;
  try {
    body = await response.json();
  } catch (error) {
    throw new ApiError(method, `http_${response.status}`);
  }
  if (!body.ok) {
    throw new ApiError(method, body.error || "unknown_error");
  }
  return body;
}

/** Returns true when an error means the node does not serve that method yet. */
export function isUnsupported(error) {
  return error instanceof ApiError && (error.code === "unknown_method" || error.code === "not_implemented");
}

/** Calls a paged method until its cursor runs out; returns every item of `key`. */
export async function callPaged(method, args, key) {
  const items = [];
  let cursor = "";
  for (let page = 0; page < 100; page++) {
    const body = await call(method, { ...args, cursor, limit: 200 });
    items.push(...(body[key] || []));
    cursor = body.response_metadata?.next_cursor || "";
    if (!cursor) break;
  }
  return items;
}

/** Ends the browser session and clears the cookie. */
export async function signOut() {
  await fetch("/logout", { method: "POST", credentials: "same-origin", headers: CLIENT_HEADER });
}

/**
 * Uploads a file the way Slack's clients do: files.getUploadURLExternal, a POST
 * of the bytes to the returned URL (progress reported to `onProgress` as a
 * fraction), then files.completeUploadExternal to share it in a channel.
 */
export async function uploadFile(file, channelId, threadTs, onProgress) {
  const ticket = await call("files.getUploadURLExternal", { filename: file.name, length: file.size });
  await new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", ticket.upload_url);
    request.withCredentials = true;
    request.setRequestHeader("x-switchboard-client", "web");
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => (request.status < 300 ? resolve() : reject(new ApiError("upload", `http_${request.status}`)));
    request.onerror = () => reject(new ApiError("upload", "network_error"));
    request.send(file);
  });
  const complete = { files: [{ id: ticket.file_id, title: file.name }], channel_id: channelId };
  if (threadTs) complete.thread_ts = threadTs;
  return call("files.completeUploadExternal", complete);
}
