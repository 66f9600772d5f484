// The Switchboard web client: sidebar, message list, composer, threads,
// reactions and uploads over the Web API and the real-time socket. When the
// node returns `unknown_method` for a method, the client turns its feature off.

import { call, callPaged, isUnsupported, signOut, uploadFile } from "./api.js";
import { RealtimeSocket } from "./socket.js";
import {
  el, emojiText, encodeEntities, formatTime, PICKER_EMOJI, renderAttachments, renderFiles, renderText,
} from "./render.js";

/** Messages fetched per history page. */
const HISTORY_PAGE = 50;
/** How long a typing indicator stays without a new `user_typing`, in milliseconds. */
const TYPING_SHOWN_MS = 4000;
/** Minimum interval between our own `typing` frames, in milliseconds. */
const TYPING_SEND_MS = 3000;

const $ = (id) => document.getElementById(id);

const state = {
  /** The signed-in user's id. */
  me: null,
  /** Users by id. */
  users: new Map(),
  /** Conversations loaded by the client, by id. */
  channels: new Map(),
  /** Loaded messages per conversation id: { byTs: Map, hasMore, loading }. */
  history: new Map(),
  /** Unread message counts by conversation id. */
  unread: new Map(),
  /** Presence ("active" or "away") by user id. */
  presence: new Map(),
  /** Users typing per conversation id: Map(user id -> timer). */
  typing: new Map(),
  /** The open conversation's id. */
  current: null,
  /** The open thread: { channel, ts, replies: Map } or null. */
  thread: null,
  /** The message being edited: { channel, ts } or null. */
  editing: null,
  /** When we last sent a typing frame, in milliseconds. */
  lastTypingSent: 0,
  /** Features switched off because the node returned `unknown_method`. */
  unsupported: new Set(),
};

let socket = null;

// ---------------------------------------------------------------- startup

async function start() {
  let auth;
  try {
    auth = await call("auth.test");
  } catch (error) {
    $("signed-out").hidden = false;
    return;
  }
  state.me = auth.user_id;
  $("team-name").textContent = auth.team;
  $("app").hidden = false;

  await loadUsers();
  $("me-name").textContent = displayName(state.me);
  state.presence.set(state.me, "active");
  await loadChannels();
  await loadUnreadCounts();
  await loadPresence();
  renderSidebar();
  bindControls();

  const general = [...state.channels.values()].find((c) => c.is_general && c.is_member);
  const first = general || [...state.channels.values()].find((c) => c.is_member);
  if (first) await openChannel(first.id);

  socket = new RealtimeSocket({ onEvent: handleEvent, onStatus: showConnection, onReconnect: catchUp });
  socket.connect();
}

async function loadUsers() {
  const users = await callPaged("users.list", {}, "members");
  for (const user of users) state.users.set(user.id, user);
}

async function loadChannels() {
  const channels = await callPaged(
    "conversations.list",
    { types: "public_channel,private_channel,mpim,im", exclude_archived: true },
    "channels",
  );
  for (const channel of channels) state.channels.set(channel.id, channel);
}

/** Reads `unread_count_display` from conversations.info where the node computes it. */
async function loadUnreadCounts() {
  for (const channel of memberChannels()) {
    try {
      const info = await call("conversations.info", { channel: channel.id });
      if (typeof info.channel.unread_count_display === "number") {
        state.unread.set(channel.id, info.channel.unread_count_display);
      }
    } catch (error) {
      console.warn("conversations.info failed", channel.id, error.code);
    }
  }
}

/** Reads each direct-message partner's presence; presence_change events keep it current. */
async function loadPresence() {
  for (const channel of memberChannels().filter((c) => c.is_im)) {
    if (state.unsupported.has("presence")) return;
    try {
      const answer = await call("users.getPresence", { user: channel.user });
      state.presence.set(channel.user, answer.presence);
    } catch (error) {
      if (isUnsupported(error)) state.unsupported.add("presence");
    }
  }
}

/**
 * Asks the node for presence changes of the users the client knows: the node
 * sends `presence_change` only to sessions subscribed with `presence_sub`.
 */
function subscribePresence() {
  const ids = [...state.users.keys()].filter((id) => id !== state.me);
  socket?.send({ type: "presence_sub", ids });
}

function memberChannels() {
  return [...state.channels.values()].filter((c) => c.is_member && !c.is_archived);
}

// ---------------------------------------------------------------- names

function displayName(userId) {
  const user = state.users.get(userId);
  if (!user) return userId || "unknown";
  return user.profile?.display_name || user.real_name || user.name;
}

function channelLabel(channel) {
  if (channel.is_im) return displayName(channel.user);
  return channel.name || channel.id;
}

// ---------------------------------------------------------------- sidebar

function renderSidebar() {
  const channelList = $("channel-list");
  const dmList = $("dm-list");
  channelList.replaceChildren();
  dmList.replaceChildren();
  const sorted = memberChannels().sort((a, b) => channelLabel(a).localeCompare(channelLabel(b)));
  for (const channel of sorted) {
    const item = el("li", "sidebar-item");
    item.dataset.channelId = channel.id;
    if (channel.id === state.current) item.classList.add("selected");
    const unread = state.unread.get(channel.id) || 0;
    if (unread > 0) item.classList.add("unread");

    if (channel.is_im) {
      item.append(presenceDot(channel.user));
    } else {
      item.append(el("span", "sigil", channel.is_private ? "🔒" : "#"));
    }
    item.append(el("span", "label", channelLabel(channel)));
    if (unread > 0) item.append(el("span", "badge", unread));
    item.addEventListener("click", () => openChannel(channel.id));
    (channel.is_im || channel.is_mpim ? dmList : channelList).append(item);
  }
  const myDot = $("me-presence");
  myDot.classList.toggle("active", state.presence.get(state.me) === "active");
}

/** Creates a presence dot: filled when active, hollow when away, faint while unknown. */
function presenceDot(userId) {
  const presence = state.presence.get(userId);
  const dot = el("span", `presence-dot ${presence || "unknown"}`);
  dot.title = presence || "presence unknown";
  return dot;
}

// ---------------------------------------------------------------- history

function historyOf(channelId) {
  let history = state.history.get(channelId);
  if (!history) {
    history = { byTs: new Map(), hasMore: true, loading: false, loaded: false };
    state.history.set(channelId, history);
  }
  return history;
}

function sortedMessages(history) {
  return [...history.byTs.values()].sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
}

function newestTs(history) {
  let newest = null;
  for (const ts of history.byTs.keys()) {
    if (newest === null || parseFloat(ts) > parseFloat(newest)) newest = ts;
  }
  return newest;
}

async function openChannel(channelId) {
  state.current = channelId;
  state.editing = null;
  state.unread.set(channelId, 0);
  const channel = state.channels.get(channelId);
  $("channel-title").textContent = channel.is_im ? `@${channelLabel(channel)}` : `#${channelLabel(channel)}`;
  $("channel-topic").textContent = channel.topic?.value || "";
  $("leave-channel").hidden = channel.is_im || channel.is_general || !channel.is_member;
  renderSidebar();
  renderTyping();
  const history = historyOf(channelId);
  if (!history.loaded) {
    $("messages").replaceChildren();
    await loadOlder(channelId);
    history.loaded = true;
  }
  renderMessages({ stickToBottom: true });
  markRead(channelId);
  $("composer").focus();
}

/** Loads the page of history older than what is loaded. */
async function loadOlder(channelId) {
  const history = historyOf(channelId);
  if (history.loading || !history.hasMore) return;
  history.loading = true;
  const oldest = sortedMessages(history)[0];
  const args = { channel: channelId, limit: HISTORY_PAGE };
  if (oldest) args.latest = oldest.ts;
  try {
    const page = await call("conversations.history", args);
    for (const message of page.messages) history.byTs.set(message.ts, message);
    history.hasMore = Boolean(page.has_more);
  } catch (error) {
    showNotice(`Could not load history: ${error.code}`);
  } finally {
    history.loading = false;
  }
}

/** Fetches the messages newer than the newest loaded one, after a reconnect. */
async function loadNewer(channelId) {
  const history = historyOf(channelId);
  for (let page = 0; page < 20; page++) {
    const newest = newestTs(history);
    const args = { channel: channelId, limit: 200 };
    if (newest) args.oldest = newest;
    const answer = await call("conversations.history", args);
    const fresh = answer.messages.filter((m) => !history.byTs.has(m.ts) && m.user !== state.me && countsAsUnread(m));
    for (const message of answer.messages) history.byTs.set(message.ts, message);
    if (channelId !== state.current && fresh.length > 0) {
      state.unread.set(channelId, (state.unread.get(channelId) || 0) + fresh.length);
    }
    if (!answer.has_more) return;
  }
}

/** Called after the socket reconnects: fetch everything sent while it was down. */
async function catchUp() {
  try {
    const known = new Set(state.channels.keys());
    await loadChannels();
    for (const channel of memberChannels()) {
      if (!known.has(channel.id) || state.history.get(channel.id)?.loaded) {
        await loadNewer(channel.id);
      }
    }
    if (state.thread) await loadThread();
  } catch (error) {
    showNotice(`Could not fetch missed messages: ${error.code}`);
  }
  renderSidebar();
  renderMessages({});
  document.body.dataset.caughtUp = String(Date.now());
}

function markRead(channelId) {
  const newest = newestTs(historyOf(channelId));
  if (!newest || state.unsupported.has("mark")) return;
  call("conversations.mark", { channel: channelId, ts: newest }).catch((error) => {
    if (isUnsupported(error)) state.unsupported.add("mark");
  });
}

// ---------------------------------------------------------------- messages

function renderMessages({ stickToBottom = false, keepOffsetFromBottom = false }) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const fromBottom = list.scrollHeight - list.scrollTop;
  const history = historyOf(state.current);
  list.replaceChildren();
  if (!history.hasMore && history.loaded) {
    list.append(el("div", "history-start", "This is the start of the conversation."));
  }
  for (const message of sortedMessages(history)) {
    list.append(renderMessage(message, state.current, false));
  }
  if (stickToBottom || atBottom) {
    list.scrollTop = list.scrollHeight;
  } else if (keepOffsetFromBottom) {
    list.scrollTop = list.scrollHeight - fromBottom;
  }
}

function renderMessage(message, channelId, inThread) {
  const row = el("div", "message");
  row.dataset.ts = message.ts;
  if (message.subtype) row.classList.add(`subtype-${message.subtype}`);

  const header = el("div", "message-header");
  header.append(el("span", "author", message.user ? displayName(message.user) : message.username || "bot"));
  header.append(el("span", "time", formatTime(message.ts)));
  if (message.edited) header.append(el("span", "edited", "(edited)"));
  row.append(header);

  const editing = state.editing && state.editing.ts === message.ts && state.editing.channel === channelId;
  if (editing) {
    row.append(renderEditor(message, channelId));
  } else {
    const text = el("div", "message-text");
    text.append(renderText(message.text, displayName));
    row.append(text);
  }
  if (message.files?.length) row.append(renderFiles(message.files));
  if (message.attachments?.length) row.append(renderAttachments(message.attachments));
  row.append(renderReactions(message, channelId));

  if (!inThread && message.reply_count > 0) {
    const replies = el("button", "reply-count link-button", `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}`);
    replies.type = "button";
    replies.addEventListener("click", () => openThread(channelId, message.ts));
    row.append(replies);
  }
  row.append(renderActions(message, channelId, inThread));
  return row;
}

function renderReactions(message, channelId) {
  const bar = el("div", "reactions");
  for (const reaction of message.reactions || []) {
    const button = el("button", "reaction", `${emojiText(reaction.name)} ${reaction.count}`);
    button.type = "button";
    button.dataset.name = reaction.name;
    const mine = (reaction.users || []).includes(state.me);
    if (mine) button.classList.add("mine");
    button.title = (reaction.users || []).map(displayName).join(", ");
    button.addEventListener("click", () => react(channelId, message.ts, reaction.name, !mine));
    bar.append(button);
  }
  return bar;
}

function renderActions(message, channelId, inThread) {
  const actions = el("div", "actions");
  const add = (label, title, handler) => {
    const button = el("button", "action", label);
    button.type = "button";
    button.title = title;
    button.addEventListener("click", handler);
    actions.append(button);
  };
  add("☺+", "Add a reaction", (event) => openEmojiPicker(event.currentTarget, channelId, message.ts));
  if (!inThread) add("Reply", "Reply in a thread", () => openThread(channelId, message.ts));
  if (message.user === state.me && !message.subtype) {
    add("Edit", "Edit this message", () => {
      state.editing = { channel: channelId, ts: message.ts };
      rerender();
    });
    add("Delete", "Delete this message", () => deleteMessage(channelId, message.ts));
  }
  return actions;
}

function renderEditor(message, channelId) {
  const box = el("div", "editor");
  const input = el("textarea", "composer");
  input.value = decodeForEditing(message.text);
  const save = el("button", "primary", "Save");
  const cancel = el("button", "", "Cancel");
  save.type = "button";
  cancel.type = "button";
  const finish = async (keep) => {
    const text = input.value.trim();
    state.editing = null;
    if (keep && text) {
      try {
        const answer = await call("chat.update", { channel: channelId, ts: message.ts, text: encodeMessage(text) });
        applyMessageChange(channelId, { ...message, text: answer.text, edited: { user: state.me } });
      } catch (error) {
        showNotice(`Could not edit the message: ${error.code}`);
      }
    }
    rerender();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      finish(true);
    } else if (event.key === "Escape") {
      finish(false);
    }
  });
  save.addEventListener("click", () => finish(true));
  cancel.addEventListener("click", () => finish(false));
  box.append(input, save, cancel);
  setTimeout(() => input.focus(), 0);
  return box;
}

/** Turns stored text back into what the user typed: mentions as @name, entities decoded. */
function decodeForEditing(text) {
  return String(text || "")
    .replace(/<@([UW][A-Z0-9]+)(\|[^>]*)?>/g, (_, id) => `@${state.users.get(id)?.name || id}`)
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** Escapes typed text for Slack's format and turns @name of known users into mentions. */
function encodeMessage(text) {
  const byName = new Map([...state.users.values()].map((u) => [u.name, u.id]));
  return encodeEntities(text).replace(/(^|[\s(])@([a-z0-9._-]+)/gi, (whole, before, name) => {
    const id = byName.get(name);
    return id ? `${before}<@${id}>` : whole;
  });
}

function rerender() {
  renderMessages({});
  if (state.thread) renderThread();
}

async function deleteMessage(channelId, ts) {
  if (!window.confirm("Delete this message?")) return;
  try {
    await call("chat.delete", { channel: channelId, ts });
    removeMessage(channelId, ts);
  } catch (error) {
    showNotice(`Could not delete the message: ${error.code}`);
  }
}

async function react(channelId, ts, name, add) {
  try {
    await call(add ? "reactions.add" : "reactions.remove", { channel: channelId, timestamp: ts, name });
  } catch (error) {
    if (error.code !== "already_reacted" && error.code !== "no_reaction") {
      showNotice(`Could not change the reaction: ${error.code}`);
    }
  }
}

function openEmojiPicker(anchor, channelId, ts) {
  closeDialog();
  const dialog = $("dialog");
  dialog.className = "dialog emoji-picker";
  for (const name of PICKER_EMOJI) {
    const button = el("button", "emoji", emojiText(name));
    button.type = "button";
    button.dataset.name = name;
    button.title = `:${name}:`;
    button.addEventListener("click", () => {
      closeDialog();
      react(channelId, ts, name, true);
    });
    dialog.append(button);
  }
  const box = anchor.getBoundingClientRect();
  dialog.style.left = `${Math.max(8, box.left - 120)}px`;
  dialog.style.top = `${Math.max(8, box.top - 48)}px`;
  dialog.hidden = false;
}

function closeDialog() {
  const dialog = $("dialog");
  dialog.hidden = true;
  dialog.replaceChildren();
  dialog.removeAttribute("style");
}

// ---------------------------------------------------------------- threads

async function openThread(channelId, ts) {
  state.thread = { channel: channelId, ts, replies: new Map() };
  $("thread").hidden = false;
  await loadThread();
  renderThread();
  $("thread-composer").focus();
}

async function loadThread() {
  const thread = state.thread;
  try {
    const messages = await callPaged("conversations.replies", { channel: thread.channel, ts: thread.ts }, "messages");
    for (const message of messages) thread.replies.set(message.ts, message);
  } catch (error) {
    showNotice(`Could not load the thread: ${error.code}`);
  }
}

function renderThread() {
  const thread = state.thread;
  const list = $("thread-messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  const messages = [...thread.replies.values()].sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
  for (const message of messages) {
    const row = renderMessage(message, thread.channel, true);
    if (message.ts === thread.ts) row.classList.add("thread-parent");
    list.append(row);
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function closeThread() {
  state.thread = null;
  $("thread").hidden = true;
}

// ---------------------------------------------------------------- sending

async function send(input, threadTs) {
  const text = input.value.trim();
  if (!text || !state.current) return;
  const channelId = threadTs ? state.thread.channel : state.current;
  input.value = "";
  // The next keystroke announces typing again, as after a sent message.
  state.lastTypingSent = 0;
  const args = { channel: channelId, text: encodeMessage(text) };
  if (threadTs) args.thread_ts = threadTs;
  try {
    const answer = await call("chat.postMessage", args);
    receiveMessage(channelId, answer.message);
  } catch (error) {
    input.value = text;
    showNotice(`Could not send the message: ${error.code}`);
  }
}

function sendTyping() {
  const now = Date.now();
  if (!socket || !state.current || now - state.lastTypingSent < TYPING_SEND_MS) return;
  if (socket.send({ type: "typing", channel: state.current })) state.lastTypingSent = now;
}

// ---------------------------------------------------------------- events

function handleEvent(event) {
  switch (event.type) {
    case "message":
      return handleMessageEvent(event);
    case "reaction_added":
    case "reaction_removed":
      return applyReaction(event);
    case "user_typing":
      return showTyping(event.channel, event.user);
    case "presence_change":
      for (const user of event.users || [event.user]) state.presence.set(user, event.presence);
      return renderSidebar();
    case "channel_joined":
    case "group_joined":
    case "im_created":
      state.channels.set(event.channel.id, { ...event.channel, is_member: true });
      return renderSidebar();
    case "channel_left":
    case "group_left":
      return forgetChannel(event.channel);
    case "channel_created":
      if (!state.channels.has(event.channel.id)) {
        state.channels.set(event.channel.id, { ...event.channel, is_member: false });
      }
      return undefined;
    case "channel_rename": {
      const channel = state.channels.get(event.channel.id);
      if (channel) channel.name = event.channel.name;
      renderSidebar();
      if (state.current === event.channel.id) openChannelHeader(channel);
      return undefined;
    }
    case "channel_archive":
      return forgetChannel(event.channel);
    case "team_join":
      state.users.set(event.user.id, event.user);
      return undefined;
    default:
      return undefined;
  }
}

function openChannelHeader(channel) {
  $("channel-title").textContent = channel.is_im ? `@${channelLabel(channel)}` : `#${channelLabel(channel)}`;
  $("channel-topic").textContent = channel.topic?.value || "";
}

function forgetChannel(channelId) {
  const channel = state.channels.get(channelId);
  if (channel) channel.is_member = false;
  state.history.delete(channelId);
  if (state.thread?.channel === channelId) closeThread();
  if (state.current === channelId) {
    state.current = null;
    const next = memberChannels()[0];
    if (next) openChannel(next.id);
    else $("messages").replaceChildren();
  }
  renderSidebar();
}

function handleMessageEvent(event) {
  if (event.subtype === "message_changed") {
    return applyMessageChange(event.channel, event.message);
  }
  if (event.subtype === "message_deleted") {
    return removeMessage(event.channel, event.deleted_ts);
  }
  if (event.subtype === "channel_topic" || event.subtype === "channel_purpose") {
    refreshChannel(event.channel);
  }
  return receiveMessage(event.channel, event);
}

async function refreshChannel(channelId) {
  try {
    const info = await call("conversations.info", { channel: channelId });
    state.channels.set(channelId, info.channel);
    if (state.current === channelId) openChannelHeader(info.channel);
  } catch (error) {
    console.warn("conversations.info failed", channelId, error.code);
  }
}

/** Adds a new message or reply (from the socket or our own post); ignores repeats. */
function receiveMessage(channelId, raw) {
  const message = { ...raw };
  delete message.type;
  delete message.channel;
  delete message.event_ts;
  const isReply = message.thread_ts && message.thread_ts !== message.ts;
  clearTyping(channelId, message.user);

  if (isReply) {
    const history = state.history.get(channelId);
    const parent = history?.byTs.get(message.thread_ts);
    const thread = state.thread;
    const alreadyKnown = thread && thread.channel === channelId && thread.replies.has(message.ts);
    if (parent && !alreadyKnown) {
      const seen = parent.__replies || (parent.__replies = new Set());
      if (!seen.has(message.ts)) {
        seen.add(message.ts);
        parent.reply_count = (parent.reply_count || 0) + 1;
      }
    }
    if (thread && thread.channel === channelId && thread.ts === message.thread_ts) {
      thread.replies.set(message.ts, message);
      renderThread();
    }
    if (channelId === state.current) renderMessages({});
    return;
  }

  const history = historyOf(channelId);
  const isNew = !history.byTs.has(message.ts);
  history.byTs.set(message.ts, { ...history.byTs.get(message.ts), ...message });
  if (!state.channels.get(channelId)?.is_member) {
    refreshChannel(channelId).then(renderSidebar);
  }
  if (channelId === state.current) {
    renderMessages({});
    markRead(channelId);
  } else if (isNew && message.user !== state.me && countsAsUnread(message)) {
    state.unread.set(channelId, (state.unread.get(channelId) || 0) + 1);
    renderSidebar();
  }
}

/** Join and leave notices do not mark a conversation unread, as in Slack. */
function countsAsUnread(message) {
  return message.subtype !== "channel_join" && message.subtype !== "channel_leave";
}

function applyMessageChange(channelId, message) {
  const history = state.history.get(channelId);
  const known = history?.byTs.get(message.ts);
  if (known) history.byTs.set(message.ts, { ...known, ...message });
  const thread = state.thread;
  if (thread && thread.channel === channelId && thread.replies.has(message.ts)) {
    thread.replies.set(message.ts, { ...thread.replies.get(message.ts), ...message });
  }
  rerenderIfShown(channelId);
}

function removeMessage(channelId, ts) {
  state.history.get(channelId)?.byTs.delete(ts);
  const thread = state.thread;
  if (thread && thread.channel === channelId) {
    if (thread.ts === ts) closeThread();
    else thread.replies.delete(ts);
  }
  rerenderIfShown(channelId);
}

function applyReaction(event) {
  const channelId = event.item.channel;
  const ts = event.item.ts;
  const targets = [state.history.get(channelId)?.byTs.get(ts)];
  if (state.thread?.channel === channelId) targets.push(state.thread.replies.get(ts));
  for (const message of targets.filter(Boolean)) {
    const reactions = message.reactions || (message.reactions = []);
    let reaction = reactions.find((r) => r.name === event.reaction);
    if (event.type === "reaction_added") {
      if (!reaction) {
        reaction = { name: event.reaction, users: [], count: 0 };
        reactions.push(reaction);
      }
      if (!reaction.users.includes(event.user)) {
        reaction.users.push(event.user);
        reaction.count += 1;
      }
    } else if (reaction && reaction.users.includes(event.user)) {
      reaction.users = reaction.users.filter((u) => u !== event.user);
      reaction.count -= 1;
      if (reaction.count <= 0) message.reactions = reactions.filter((r) => r !== reaction);
    }
  }
  rerenderIfShown(channelId);
}

function rerenderIfShown(channelId) {
  if (channelId === state.current) renderMessages({});
  if (state.thread?.channel === channelId) renderThread();
}

// ---------------------------------------------------------------- typing

function showTyping(channelId, userId) {
  if (userId === state.me) return;
  let typers = state.typing.get(channelId);
  if (!typers) state.typing.set(channelId, (typers = new Map()));
  clearTimeout(typers.get(userId));
  typers.set(userId, setTimeout(() => clearTyping(channelId, userId), TYPING_SHOWN_MS));
  renderTyping();
}

function clearTyping(channelId, userId) {
  const typers = state.typing.get(channelId);
  if (!typers?.has(userId)) return;
  clearTimeout(typers.get(userId));
  typers.delete(userId);
  renderTyping();
}

function renderTyping() {
  const names = [...(state.typing.get(state.current)?.keys() || [])].map(displayName);
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length > 1) text = `${names.join(", ")} are typing…`;
  $("typing").textContent = text;
}

// ---------------------------------------------------------------- mentions

/** Returns the `@word` just before the caret, or null. */
function mentionQuery(input) {
  const before = input.value.slice(0, input.selectionStart);
  const match = /(^|\s)@([a-z0-9._-]*)$/i.exec(before);
  return match ? { query: match[2].toLowerCase(), start: before.length - match[2].length - 1 } : null;
}

function updateAutocomplete(input) {
  const list = $("autocomplete");
  const found = mentionQuery(input);
  if (!found) {
    list.hidden = true;
    return;
  }
  const matches = [...state.users.values()]
    .filter((u) => !u.deleted)
    .filter((u) => u.name.toLowerCase().startsWith(found.query)
      || (u.real_name || "").toLowerCase().startsWith(found.query))
    .slice(0, 8);
  list.replaceChildren();
  matches.forEach((user, index) => {
    const item = el("li", index === 0 ? "selected" : "");
    item.dataset.name = user.name;
    item.append(presenceDot(user.id), el("strong", "", user.name), el("span", "real-name", ` ${user.real_name || ""}`));
    item.addEventListener("mousedown", (event) => {
      event.preventDefault();
      pickMention(input, user.name);
    });
    list.append(item);
  });
  list.hidden = matches.length === 0;
}

function pickMention(input, name) {
  const found = mentionQuery(input);
  if (!found) return;
  const after = input.value.slice(input.selectionStart);
  input.value = `${input.value.slice(0, found.start)}@${name} ${after}`;
  const caret = found.start + name.length + 2;
  input.setSelectionRange(caret, caret);
  $("autocomplete").hidden = true;
}

/** Handles arrow keys, Enter and Tab while the list is open; returns whether it did. */
function autocompleteKey(input, event) {
  const list = $("autocomplete");
  if (list.hidden) return false;
  const items = [...list.children];
  const index = items.findIndex((item) => item.classList.contains("selected"));
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const next = (index + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
    items.forEach((item, i) => item.classList.toggle("selected", i === next));
    return true;
  }
  if (event.key === "Enter" || event.key === "Tab") {
    pickMention(input, items[Math.max(0, index)].dataset.name);
    return true;
  }
  if (event.key === "Escape") {
    list.hidden = true;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- channels

async function createChannel() {
  const name = await ask("New channel name (lower case, no spaces)");
  if (!name) return;
  try {
    const answer = await call("conversations.create", { name: name.trim().toLowerCase() });
    state.channels.set(answer.channel.id, answer.channel);
    await openChannel(answer.channel.id);
  } catch (error) {
    showNotice(`Could not create the channel: ${error.code}`);
  }
}

async function browseChannels() {
  let channels;
  try {
    channels = await callPaged("conversations.list", { types: "public_channel", exclude_archived: true }, "channels");
  } catch (error) {
    showNotice(`Could not list channels: ${error.code}`);
    return;
  }
  const others = channels.filter((c) => !c.is_member);
  choose(
    "Join a channel",
    others.map((c) => ({ label: `#${c.name}`, value: c.id })),
    async (channelId) => {
      try {
        const answer = await call("conversations.join", { channel: channelId });
        state.channels.set(channelId, { ...answer.channel, is_member: true });
        state.history.delete(channelId);
        await openChannel(channelId);
      } catch (error) {
        showNotice(`Could not join the channel: ${error.code}`);
      }
    },
  );
}

async function leaveChannel() {
  const channelId = state.current;
  try {
    await call("conversations.leave", { channel: channelId });
    forgetChannel(channelId);
  } catch (error) {
    showNotice(`Could not leave the channel: ${error.code}`);
  }
}

function newDirectMessage() {
  const users = [...state.users.values()].filter((u) => !u.deleted && u.id !== state.me);
  choose(
    "Message someone",
    users.map((u) => ({ label: `${u.name} ${u.real_name ? `(${u.real_name})` : ""}`, value: u.id })),
    async (userId) => {
      try {
        const answer = await call("conversations.open", { users: userId, return_im: true });
        const channel = answer.channel;
        const known = state.channels.get(channel.id);
        state.channels.set(channel.id, { ...known, ...channel, is_member: true, is_im: true, user: channel.user || userId });
        await openChannel(channel.id);
      } catch (error) {
        showNotice(`Could not open the conversation: ${error.code}`);
      }
    },
  );
}

/** Shows a one-line text prompt in the dialog; resolves with the text or null. */
function ask(title) {
  closeDialog();
  const dialog = $("dialog");
  dialog.className = "dialog form";
  return new Promise((resolve) => {
    const input = el("input", "text-input");
    const ok = el("button", "primary", "Create");
    const cancel = el("button", "", "Cancel");
    ok.type = "button";
    cancel.type = "button";
    const done = (value) => {
      closeDialog();
      resolve(value);
    };
    ok.addEventListener("click", () => done(input.value));
    cancel.addEventListener("click", () => done(null));
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") done(input.value);
      if (event.key === "Escape") done(null);
    });
    dialog.append(el("div", "dialog-title", title), input, ok, cancel);
    dialog.hidden = false;
    input.focus();
  });
}

/** Shows a list of choices in the dialog and calls `onPick` with the chosen value. */
function choose(title, options, onPick) {
  closeDialog();
  const dialog = $("dialog");
  dialog.className = "dialog form";
  dialog.append(el("div", "dialog-title", title));
  if (options.length === 0) dialog.append(el("div", "empty", "Nothing to choose from."));
  const list = el("ul", "choice-list");
  for (const option of options) {
    const item = el("li", "choice", option.label);
    item.addEventListener("click", () => {
      closeDialog();
      onPick(option.value);
    });
    list.append(item);
  }
  const cancel = el("button", "", "Cancel");
  cancel.type = "button";
  cancel.addEventListener("click", closeDialog);
  dialog.append(list, cancel);
  dialog.hidden = false;
}

// ---------------------------------------------------------------- uploads

async function uploadFiles(files) {
  if (!state.current) return;
  if (state.unsupported.has("files")) {
    showNotice("This node does not accept file uploads yet.");
    return;
  }
  for (const file of files) {
    const row = el("div", "upload");
    const bar = el("progress", "");
    bar.max = 1;
    bar.value = 0;
    row.append(el("span", "upload-name", file.name), bar);
    $("uploads").append(row);
    try {
      await uploadFile(file, state.current, null, (fraction) => {
        bar.value = fraction;
      });
      bar.value = 1;
    } catch (error) {
      if (isUnsupported(error)) {
        state.unsupported.add("files");
        showNotice("This node does not accept file uploads yet.");
      } else {
        showNotice(`Could not upload ${file.name}: ${error.code}`);
      }
    } finally {
      setTimeout(() => row.remove(), 1500);
    }
  }
}

// ---------------------------------------------------------------- status

function showConnection(status) {
  document.body.dataset.socket = status;
  $("connection").hidden = status === "open" || status === "connecting" && !socket?.connectedOnce;
  if (status === "signed_out") {
    $("app").hidden = true;
    $("signed-out").hidden = false;
  }
  if (status === "open") {
    state.presence.set(state.me, "active");
    subscribePresence();
    renderSidebar();
  }
}

let noticeTimer = null;

function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    notice.hidden = true;
  }, 6000);
}

// ---------------------------------------------------------------- controls

function bindControls() {
  // The main composer sends top-level messages and completes @mentions.
  const input = $("composer");
  input.addEventListener("keydown", (event) => {
    if (autocompleteKey(input, event)) {
      event.preventDefault();
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send(input, null);
    }
  });
  input.addEventListener("input", () => {
    sendTyping();
    updateAutocomplete(input);
  });

  // The thread composer replies in the open thread.
  const threadInput = $("thread-composer");
  threadInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && state.thread) {
      event.preventDefault();
      send(threadInput, state.thread.ts);
    }
  });
  threadInput.addEventListener("input", sendTyping);

  $("messages").addEventListener("scroll", async () => {
    const list = $("messages");
    const history = state.current && historyOf(state.current);
    if (list.scrollTop > 80 || !history || !history.hasMore || history.loading || !history.loaded) return;
    const channelId = state.current;
    await loadOlder(channelId);
    if (channelId === state.current) renderMessages({ keepOffsetFromBottom: true });
  });

  $("close-thread").addEventListener("click", closeThread);
  $("new-channel").addEventListener("click", createChannel);
  $("browse-channels").addEventListener("click", browseChannels);
  $("new-dm").addEventListener("click", newDirectMessage);
  $("leave-channel").addEventListener("click", leaveChannel);
  $("sign-out").addEventListener("click", async () => {
    socket?.stop();
    await signOut();
    $("app").hidden = true;
    $("signed-out").hidden = false;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDialog();
  });

  const main = $("main");
  const overlay = $("drop-overlay");
  main.addEventListener("dragover", (event) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    overlay.hidden = false;
  });
  main.addEventListener("dragleave", (event) => {
    if (event.target === overlay) overlay.hidden = true;
  });
  main.addEventListener("drop", (event) => {
    event.preventDefault();
    overlay.hidden = true;
    uploadFiles([...event.dataTransfer.files]);
  });
}

start().catch((error) => {
  console.error("the web client failed to start", error);
  showNotice(`The client failed to start: ${error.code || error.message}`);
});
