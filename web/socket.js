// The real-time socket: rtm.connect (authenticated by the session cookie), then
// the returned ws:// URL. When the socket drops, it reconnects by itself with
// a growing delay and calls the app's onReconnect, which fetches what it missed.

import { call } from "./api.js";

/** Delay before the first reconnect attempt, in milliseconds. */
const FIRST_RETRY_MS = 500;
/** Maximum delay between reconnect attempts, in milliseconds. */
const MAX_RETRY_MS = 8000;
/** Interval of keep-alive pings, in milliseconds. */
const PING_INTERVAL_MS = 20000;

export class RealtimeSocket {
  /**
   * @param {object} handlers onEvent(event), onStatus("connecting"|"open"|"closed"),
   *   onReconnect() after every connection but the first.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.socket = null;
    this.nextId = 1;
    this.retryMs = FIRST_RETRY_MS;
    this.connectedOnce = false;
    this.pingTimer = null;
    this.stopped = false;
  }

  /** Opens the socket; retries until it succeeds or stop() is called. */
  async connect() {
    if (this.stopped) return;
    this.handlers.onStatus("connecting");
    let url;
    try {
      url = (await call("rtm.connect")).url;
    } catch (error) {
      if (error.code === "invalid_auth" || error.code === "not_authed") {
        this.handlers.onStatus("signed_out");
        return;
      }
      this.scheduleRetry();
      return;
    }
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        console.warn("ignored a socket frame that is not JSON", error);
        return;
      }
      if (event.type === "hello") this.opened();
      this.handlers.onEvent(event);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.pingTimer);
      this.handlers.onStatus("closed");
      this.scheduleRetry();
    };
  }

  opened() {
    this.retryMs = FIRST_RETRY_MS;
    this.handlers.onStatus("open");
    this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_INTERVAL_MS);
    if (this.connectedOnce) this.handlers.onReconnect();
    this.connectedOnce = true;
  }

  scheduleRetry() {
    if (this.stopped) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    setTimeout(() => this.connect(), delay);
  }

  /** Sends a client frame when the socket is open; returns whether it was sent. */
  send(frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify({ id: this.nextId++, ...frame }));
    return true;
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pingTimer);
    if (this.socket) this.socket.close();
  }
}
