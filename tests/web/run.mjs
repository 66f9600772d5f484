// Browser test of the web client: two Chromium profiles signed in as two users
// chat through a running node. Started by tests/web_client.rs, which passes:
//   SWITCHBOARD_URL      base URL of the node, such as http://127.0.0.1:PORT
//   LOGIN_LINK_A/_B      single-use login links of the two users
//   USER_A_NAME/_B_NAME  the two users' names
//   ARTIFACTS_DIR        where screenshots go
//   HOSTILE_REAL_NAME    real name of the user "mallory", a script payload
// To restart the node it prints RESTART_NODE on stdout and waits for a line
// NODE_RESTARTED on stdin. Exits 0 when every check passed.

import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const BASE_URL = required("SWITCHBOARD_URL");
const LINK_A = required("LOGIN_LINK_A");
const LINK_B = required("LOGIN_LINK_B");
const NAME_A = required("USER_A_NAME");
const NAME_B = required("USER_B_NAME");
const ARTIFACTS = required("ARTIFACTS_DIR");
const HOSTILE_NAME = required("HOSTILE_REAL_NAME");
/** How long one check waits for the page, in milliseconds. */
const WAIT_MS = 20000;

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
}

let passed = 0;
let failed = 0;

async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}: ${error.message.split("\n")[0]}`);
    throw error;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Returns whether a URL points at a loopback address. */
function isLoopback(url) {
  const { hostname, protocol } = new URL(url);
  if (protocol === "data:" || protocol === "about:") return true;
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
}

const stdinLines = createInterface({ input: process.stdin });
const waitingForLine = [];
stdinLines.on("line", (line) => waitingForLine.shift()?.(line));

function nextStdinLine() {
  return new Promise((resolve) => waitingForLine.push(resolve));
}

/** Opens a fresh Chromium profile that may reach only loopback addresses. */
async function openProfile(label) {
  const profileDir = mkdtempSync(join(tmpdir(), `switchboard-web-${label}-`));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 760 },
  });
  await context.route("**/*", (route) => {
    if (isLoopback(route.request().url())) return route.continue();
    console.error(`blocked a request off loopback: ${route.request().url()}`);
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (error) => console.error(`[${label}] page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") console.error(`[${label}] console: ${message.text()}`);
  });
  return { context, page, profileDir };
}

/** Waits until the page's socket is open. */
async function socketOpen(page) {
  await page.waitForSelector("body[data-socket=open]", { timeout: WAIT_MS });
}

function message(page, text) {
  return page.locator("#messages .message", { has: page.locator(".message-text", { hasText: text }) });
}

async function send(page, text) {
  const composer = page.locator("#composer");
  await composer.fill(text);
  await composer.press("Enter");
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, name) });
}

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const alice = await openProfile("a");
  const bob = await openProfile("b");
  const a = alice.page;
  const b = bob.page;

  try {
    await check("login link signs in and sets an HttpOnly SameSite=Strict cookie", async () => {
      const response = await a.goto(LINK_A);
      assert(response.ok(), `the page after sign-in answered ${response.status()}`);
      assert(new URL(a.url()).pathname === "/", `signed-in page is at ${a.url()}, expected /`);
      const cookies = await alice.context.cookies();
      const session = cookies.find((c) => c.name === "switchboard_session");
      assert(session, "no switchboard_session cookie");
      assert(session.httpOnly, "session cookie is not HttpOnly");
      assert(session.sameSite === "Strict", `session cookie SameSite is ${session.sameSite}`);
      const visible = await a.evaluate(() => document.cookie);
      assert(!visible.includes("switchboard_session"), "a script can read the session cookie");
      await socketOpen(a);
    });

    await check("page carries a Content-Security-Policy", async () => {
      const response = await a.request.get(`${BASE_URL}/`);
      const policy = response.headers()["content-security-policy"] || "";
      assert(policy.includes("script-src 'self'"), `policy is ${JSON.stringify(policy)}`);
      assert(!policy.includes("unsafe-inline"), `policy allows inline code: ${policy}`);
    });

    await check("login link works only once", async () => {
      const again = await bob.context.newPage();
      const response = await again.goto(LINK_A);
      assert(response.status() === 401, `reused link answered ${response.status()}`);
      await again.close();
    });

    await b.goto(LINK_B);
    await socketOpen(b);

    await check("message reaches the other user without reload", async () => {
      await send(a, "Hello from the first browser");
      await message(b, "Hello from the first browser").waitFor({ timeout: WAIT_MS });
    });

    await check("thread reply reaches the other user", async () => {
      const parent = message(a, "Hello from the first browser");
      await parent.hover();
      await parent.locator("button.action", { hasText: "Reply" }).click();
      await a.locator("#thread").waitFor({ timeout: WAIT_MS });
      const threadComposer = a.locator("#thread-composer");
      await threadComposer.fill("A reply in the thread");
      await threadComposer.press("Enter");
      await a.locator("#thread-messages .message-text", { hasText: "A reply in the thread" }).waitFor({ timeout: WAIT_MS });

      const count = message(b, "Hello from the first browser").locator(".reply-count");
      await count.filter({ hasText: "1 reply" }).waitFor({ timeout: WAIT_MS });
      await count.click();
      await b.locator("#thread-messages .message-text", { hasText: "A reply in the thread" }).waitFor({ timeout: WAIT_MS });
    });

    await check("reaction reaches the other user", async () => {
      const parent = message(a, "Hello from the first browser");
      await parent.hover();
      await parent.locator("button.action", { hasText: "☺+" }).click();
      await a.locator("#dialog button.emoji[data-name=tada]").click();
      const seen = message(b, "Hello from the first browser").locator(".reaction[data-name=tada]");
      await seen.filter({ hasText: "1" }).waitFor({ timeout: WAIT_MS });
    });

    await check("typing indicator shows the typist", async () => {
      await a.locator("#composer").pressSequentially("typ", { delay: 20 });
      await b.locator("#typing", { hasText: "is typing" }).waitFor({ timeout: WAIT_MS });
      await a.locator("#composer").fill("");
    });

    await check("mention autocomplete inserts a mention", async () => {
      const composer = a.locator("#composer");
      await composer.pressSequentially(`Hi @${NAME_B.slice(0, 2)}`, { delay: 20 });
      await a.locator("#autocomplete li", { hasText: NAME_B }).waitFor({ timeout: WAIT_MS });
      await composer.press("Enter");
      const value = await composer.inputValue();
      assert(value === `Hi @${NAME_B} `, `composer holds ${JSON.stringify(value)}`);
      await composer.press("Enter");
      await b.locator("#messages .mention", { hasText: `@` }).first().waitFor({ timeout: WAIT_MS });
    });

    await check("Shift+Enter makes a new line and Enter sends", async () => {
      const composer = a.locator("#composer");
      await composer.fill("first line");
      await composer.press("Shift+Enter");
      await composer.pressSequentially("second line");
      const value = await composer.inputValue();
      assert(value === "first line\nsecond line", `composer holds ${JSON.stringify(value)}`);
      await composer.press("Enter");
      await message(b, "second line").waitFor({ timeout: WAIT_MS });
    });

    await check("script and onerror payloads render as text", async () => {
      const payload = `<script>window.__injected = "script"</script><img src=x onerror="window.__injected='img'"> <a href="javascript:alert(1)">x</a>`;
      await send(a, payload);
      const shown = message(b, "window.__injected").locator(".message-text");
      await shown.waitFor({ timeout: WAIT_MS });
      const text = await shown.textContent();
      assert(text === payload, `rendered text is ${JSON.stringify(text)}`);
      for (const page of [a, b]) {
        const injected = await page.evaluate(() => window.__injected);
        assert(injected === undefined, `payload ran: ${injected}`);
        const images = await page.locator("#messages img").count();
        assert(images === 0, `${images} img elements in the message list`);
        const scriptLinks = await page.locator("#messages a[href^='javascript']").count();
        assert(scriptLinks === 0, "a javascript: link was rendered");
      }
    });

    await check("own message can be edited", async () => {
      const ts = await message(a, "second line").getAttribute("data-ts");
      const own = a.locator(`#messages .message[data-ts="${ts}"]`);
      await own.hover();
      await own.locator("button.action", { hasText: "Edit" }).click();
      const editor = own.locator(".editor textarea");
      await editor.fill("an edited message");
      await editor.press("Enter");
      await message(b, "an edited message").locator(".edited").waitFor({ timeout: WAIT_MS });
    });

    await screenshot(a, `${NAME_A}.png`);
    await screenshot(b, `${NAME_B}.png`);

    await check("reconnect after a node restart shows messages sent meanwhile", async () => {
      // The second browser may not reconnect until the first has posted, so
      // the message can reach it only through the catch-up fetch.
      await b.route("**/api/rtm.connect", (route) => route.abort());
      console.log("RESTART_NODE");
      const line = await nextStdinLine();
      assert(line === "NODE_RESTARTED", `expected NODE_RESTARTED on stdin, got ${JSON.stringify(line)}`);
      await a.waitForFunction(() => document.body.dataset.socket !== "open", null, { timeout: WAIT_MS }).catch(() => {});
      await socketOpen(a);
      const bState = await b.evaluate(() => document.body.dataset.socket);
      assert(bState !== "open", `second browser socket is ${bState} while rtm.connect is blocked`);
      await send(a, "Sent while the second browser was away");
      await message(a, "Sent while the second browser was away").waitFor({ timeout: WAIT_MS });
      await b.unroute("**/api/rtm.connect");
      await socketOpen(b);
      await message(b, "Sent while the second browser was away").waitFor({ timeout: WAIT_MS });
    });

    await screenshot(a, `${NAME_A}-after-restart.png`);
    await screenshot(b, `${NAME_B}-after-restart.png`);

    await check("unfurl preview renders its fields as text", async () => {
      const title = `<img src=x onerror="window.__injected='unfurl'">Preview title`;
      await a.evaluate(async (title) => {
        const channel = document.querySelector("#channel-list .sidebar-item.selected").dataset.channelId;
        const response = await fetch("/api/chat.postMessage", {
          method: "POST",
          headers: { "content-type": "application/json", "x-switchboard-client": "web" },
          body: JSON.stringify({
            channel,
            text: "See https://example.com/page for details",
            attachments: [{ title, title_link: "javascript:alert(1)", text: "Unfurled <b>text</b>", service_name: "Example" }],
          }),
        });
        const body = await response.json();
        if (!body.ok) throw new Error(`chat.postMessage failed: ${body.error}`);
      }, title);
      const posted = message(b, "for details");
      const card = posted.locator(".unfurl");
      await card.waitFor({ timeout: WAIT_MS });
      const shownTitle = await card.locator(".unfurl-title").textContent();
      assert(shownTitle === title, `unfurl title is ${JSON.stringify(shownTitle)}`);
      const shownText = await card.locator(".unfurl-text").textContent();
      assert(shownText === "Unfurled <b>text</b>", `unfurl text is ${JSON.stringify(shownText)}`);
      assert((await card.locator("a").count()) === 0, "a javascript: title link was rendered");
      const link = posted.locator(".message-text a");
      assert((await link.getAttribute("href")) === "https://example.com/page", "bare URL is not a link");
      assert((await link.getAttribute("rel")).includes("noopener"), "link lacks rel=noopener");
      assert((await b.evaluate(() => window.__injected)) === undefined, "unfurl payload ran");
    });

    await check("file drop uploads or reports that uploads are unavailable", async () => {
      await b.evaluate(() => {
        const data = new DataTransfer();
        data.items.add(new File(["hello"], "notes.txt", { type: "text/plain" }));
        const drop = new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true });
        document.getElementById("main").dispatchEvent(drop);
      });
      const unavailable = b.locator("#notice", { hasText: "does not accept file uploads" });
      const uploaded = b.locator("#messages .file", { hasText: "notes.txt" });
      await unavailable.or(uploaded).first().waitFor({ timeout: WAIT_MS });
    });

    await check("channel can be created and joined", async () => {
      await a.locator("#new-channel").click();
      await a.locator("#dialog input").fill("web-test");
      await a.locator("#dialog input").press("Enter");
      await a.locator("#channel-title", { hasText: "#web-test" }).waitFor({ timeout: WAIT_MS });
      await b.locator("#browse-channels").click();
      await b.locator("#dialog .choice", { hasText: "#web-test" }).click();
      await b.locator("#channel-title", { hasText: "#web-test" }).waitFor({ timeout: WAIT_MS });
      await b.locator("#channel-list .sidebar-item", { hasText: "web-test" }).waitFor({ timeout: WAIT_MS });
    });

    await check("unread mark shows on a channel out of view", async () => {
      await a.locator("#channel-list .sidebar-item", { hasText: "general" }).click();
      await a.locator("#channel-title", { hasText: "#general" }).waitFor({ timeout: WAIT_MS });
      await send(a, "Unread for the second browser");
      const general = b.locator("#channel-list .sidebar-item", { hasText: "general" });
      await general.locator(".badge", { hasText: "1" }).waitFor({ timeout: WAIT_MS });
      await general.click();
      await message(b, "Unread for the second browser").waitFor({ timeout: WAIT_MS });
      assert((await general.locator(".badge").count()) === 0, "unread badge stays after opening");
    });

    await check("direct message appears in the other user's sidebar", async () => {
      await a.locator("#new-dm").click();
      await a.locator("#dialog .choice", { hasText: NAME_B }).click();
      await a.locator("#channel-title", { hasText: "@" }).waitFor({ timeout: WAIT_MS });
      await send(a, "A direct hello");
      const dm = b.locator("#dm-list .sidebar-item");
      await dm.locator(".badge", { hasText: "1" }).waitFor({ timeout: WAIT_MS });
      await dm.first().click();
      await message(b, "A direct hello").waitFor({ timeout: WAIT_MS });
    });

    await check("own message can be deleted", async () => {
      await send(a, "A message to delete");
      await message(b, "A message to delete").waitFor({ timeout: WAIT_MS });
      const own = message(a, "A message to delete");
      await own.hover();
      a.once("dialog", (dialog) => dialog.accept());
      await own.locator("button.action", { hasText: "Delete" }).click();
      await message(b, "A message to delete").waitFor({ state: "detached", timeout: WAIT_MS });
      await message(a, "A message to delete").waitFor({ state: "detached", timeout: WAIT_MS });
    });

    await check("channel can be left", async () => {
      await b.locator("#channel-list .sidebar-item", { hasText: "web-test" }).click();
      await b.locator("#channel-title", { hasText: "#web-test" }).waitFor({ timeout: WAIT_MS });
      await b.locator("#leave-channel").click();
      await b.locator("#channel-list .sidebar-item", { hasText: "web-test" }).waitFor({ state: "detached", timeout: WAIT_MS });
    });

    await check("scrolling up loads older history", async () => {
      await a.evaluate(async () => {
        const post = async (method, args) => {
          const response = await fetch(`/api/${method}`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-switchboard-client": "web" },
            body: JSON.stringify(args),
          });
          const body = await response.json();
          if (!body.ok) throw new Error(`${method} failed: ${body.error}`);
          return body;
        };
        const created = await post("conversations.create", { name: "web-history" });
        for (let i = 1; i <= 60; i++) {
          await post("chat.postMessage", { channel: created.channel.id, text: `History message ${i}.` });
        }
      });
      await a.reload();
      await socketOpen(a);
      await a.locator("#channel-list .sidebar-item", { hasText: "web-history" }).click();
      await message(a, "History message 60.").waitFor({ timeout: WAIT_MS });
      assert((await message(a, "History message 1.").count()) === 0, "the first page holds all 60 messages");
      await a.locator("#messages").evaluate((list) => { list.scrollTop = 0; });
      await message(a, "History message 1.").waitFor({ timeout: WAIT_MS });
      await a.locator("#messages .history-start").waitFor({ timeout: WAIT_MS });
    });

    await check("hostile topic and user name render as text", async () => {
      const topic = `<img src=x onerror="window.__injected='topic'">Topic`;
      await a.evaluate(async (topic) => {
        const general = [...document.querySelectorAll("#channel-list .sidebar-item")]
          .find((item) => item.textContent.includes("general")).dataset.channelId;
        const response = await fetch("/api/conversations.setTopic", {
          method: "POST",
          headers: { "content-type": "application/json", "x-switchboard-client": "web" },
          body: JSON.stringify({ channel: general, topic }),
        });
        const body = await response.json();
        if (!body.ok) throw new Error(`conversations.setTopic failed: ${body.error}`);
      }, topic);
      await a.reload();
      await socketOpen(a);
      await a.locator("#channel-list .sidebar-item", { hasText: "general" }).click();
      await a.locator("#channel-topic", { hasText: "Topic" }).waitFor({ timeout: WAIT_MS });
      const shownTopic = await a.locator("#channel-topic").textContent();
      assert(shownTopic === topic, `topic is ${JSON.stringify(shownTopic)}`);

      await a.locator("#new-dm").click();
      const hostile = a.locator("#dialog .choice", { hasText: "mallory" });
      await hostile.waitFor({ timeout: WAIT_MS });
      assert((await hostile.textContent()).includes(HOSTILE_NAME), "hostile real name is not shown as text");
      await a.keyboard.press("Escape");
      await a.locator("#composer").pressSequentially("@mal");
      await a.locator("#autocomplete li", { hasText: "mallory" }).waitFor({ timeout: WAIT_MS });
      await a.locator("#composer").fill("");
      assert((await a.locator("img").count()) === 0, "an img element was created");
      assert((await a.evaluate(() => window.__injected)) === undefined, "a topic or name payload ran");
    });

    await screenshot(a, `${NAME_A}-history.png`);
    await screenshot(b, `${NAME_B}-after-leaving.png`);

    await check("sign-out ends the browser session", async () => {
      await b.locator("#sign-out").click();
      await b.locator("#signed-out").waitFor({ timeout: WAIT_MS });
      await b.reload();
      await b.locator("#signed-out").waitFor({ timeout: WAIT_MS });
    });

    await check("presence dot shows a signed-out user away", async () => {
      // Signing out closed the second browser's socket, so its user went away.
      const dot = a.locator("#dm-list .sidebar-item", { hasText: NAME_B }).locator(".presence-dot");
      await dot.and(a.locator(".away")).waitFor({ timeout: WAIT_MS });
    });
  } finally {
    await alice.context.close();
    await bob.context.close();
    rmSync(alice.profileDir, { recursive: true, force: true });
    rmSync(bob.profileDir, { recursive: true, force: true });
    stdinLines.close();
  }
}

main()
  .catch((error) => {
    console.error(error);
    if (failed === 0) failed = 1;
  })
  .finally(() => {
    console.log(`browser: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 ? 0 : 1);
  });
