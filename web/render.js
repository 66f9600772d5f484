// Turning message text into DOM nodes. Every piece of text from the server
// (message text, names, topics, file names, unfurl titles) becomes a text
// node: no server string is ever parsed as HTML. Links are made only for
// http, https and mailto URLs.

/** Creates an element with a class and optional text content. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** Returns the URL when it is an http, https or mailto URL, else null. */
export function safeUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch (error) {
    return null;
  }
  return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
}

/** Creates a link that opens in a new tab without giving it this page. */
export function link(href, label) {
  const anchor = el("a", "link", label);
  anchor.href = href;
  anchor.target = "_blank";
  anchor.rel = "noopener noreferrer nofollow";
  return anchor;
}

/** Decodes the three entities Slack's message format escapes. */
export function decodeEntities(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** Escapes text for Slack's message format, as Slack's clients do before sending. */
export function encodeEntities(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const BARE_URL = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]]/g;

/** Appends plain text to `parent`, turning bare http(s) URLs into links. */
function appendPlain(parent, text) {
  let last = 0;
  for (const match of text.matchAll(BARE_URL)) {
    const href = safeUrl(match[0]);
    if (!href) continue;
    parent.append(document.createTextNode(text.slice(last, match.index)));
    parent.append(link(href, match[0]));
    last = match.index + match[0].length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

/**
 * Renders Slack-formatted message text into a fragment: `<@U…>` mentions,
 * `<#C…|name>` channel links, `<url|label>` links, `<!here>`-style
 * broadcasts, and bare URLs. Anything else between angle brackets stays text.
 * `userName(id)` returns a user's display name.
 */
export function renderText(text, userName) {
  const fragment = document.createDocumentFragment();
  const source = String(text ?? "");
  let last = 0;
  for (const match of source.matchAll(/<([^<>\s][^<>]*)>/g)) {
    const [target, label] = splitLabel(match[1]);
    const node = specialNode(target, label, userName);
    if (!node) continue;
    appendPlain(fragment, decodeEntities(source.slice(last, match.index)));
    fragment.append(node);
    last = match.index + match[0].length;
  }
  appendPlain(fragment, decodeEntities(source.slice(last)));
  return fragment;
}

function splitLabel(inner) {
  const bar = inner.indexOf("|");
  if (bar < 0) return [inner, null];
  return [inner.slice(0, bar), inner.slice(bar + 1)];
}

function specialNode(target, label, userName) {
  if (/^@[UW][A-Z0-9]+$/.test(target)) {
    return el("span", "mention", `@${label ? decodeEntities(label) : userName(target.slice(1))}`);
  }
  if (/^#C[A-Z0-9]+$/.test(target)) {
    return el("span", "channel-mention", `#${label ? decodeEntities(label) : target.slice(1)}`);
  }
  if (/^!(here|channel|everyone)$/.test(target)) {
    return el("span", "mention", `@${target.slice(1)}`);
  }
  const href = safeUrl(decodeEntities(target));
  if (href) return link(href, label ? decodeEntities(label) : decodeEntities(target));
  return null;
}

/** Formats a Slack `ts` as a local time of day. */
export function formatTime(ts) {
  const date = new Date(parseFloat(ts) * 1000);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Maps a few emoji names to characters; other names show as :name:. */
const EMOJI = {
  "+1": "👍", thumbsup: "👍", "-1": "👎", heart: "❤️", smile: "😄", tada: "🎉",
  eyes: "👀", white_check_mark: "✅", joy: "😂", rocket: "🚀", fire: "🔥", wave: "👋",
};

/** The emoji offered by the reaction picker. */
export const PICKER_EMOJI = ["+1", "heart", "smile", "tada", "eyes", "rocket"];

export function emojiText(name) {
  return EMOJI[name] || `:${name}:`;
}

/** Renders unfurl previews from a message's `attachments` (Slack's fields). */
export function renderAttachments(attachments) {
  const box = el("div", "attachments");
  for (const attachment of attachments || []) {
    const card = el("div", "unfurl");
    if (attachment.service_name) card.append(el("div", "unfurl-service", attachment.service_name));
    const title = attachment.title || attachment.fallback;
    const href = safeUrl(attachment.title_link || attachment.from_url || attachment.original_url || "");
    if (title) {
      const heading = el("div", "unfurl-title");
      heading.append(href ? link(href, title) : document.createTextNode(title));
      card.append(heading);
    }
    if (attachment.text) card.append(el("div", "unfurl-text", attachment.text));
    box.append(card);
  }
  return box;
}

/** Renders the files shared with a message (Slack's `files` array). */
export function renderFiles(files) {
  const box = el("div", "files");
  for (const file of files || []) {
    const card = el("div", "file");
    const name = file.title || file.name || "file";
    const href = safeUrl(new URL(file.url_private || file.permalink || "", location.href).href);
    card.append(el("span", "file-icon", "📄"));
    card.append(href ? link(href, name) : el("span", "", name));
    if (file.size) card.append(el("span", "file-size", ` ${Math.ceil(file.size / 1024)} KB`));
    box.append(card);
  }
  return box;
}
