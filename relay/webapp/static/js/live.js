// The live events WebSocket of one hub, reconnecting with capped exponential backoff and jitter
// (so a relay restart does not bring every phone back in the same second).

export const LinkState = Object.freeze({
  CONNECTING: "connecting", // opening the socket
  OPEN: "open", // events flow
  WAITING: "waiting", // closed; a retry is scheduled
  STOPPED: "stopped", // stop() was called; no more retries
});

export class LiveEvents {
  constructor(url, { onEvent, onState, stillAllowed, baseMs = 500, capMs = 15000 }) {
    this.url = url;
    this.onEvent = onEvent;
    // Asked after the socket closes: false when reconnecting is pointless (signed out,
    // removed from the home), so the page does not knock on a closed door forever.
    this.stillAllowed = stillAllowed || (async () => true);
    this.onState = onState || (() => {});
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.state = LinkState.STOPPED;
  }

  start() {
    this.stopped = false;
    this._connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "page closed");
    this.socket = null;
    this._set(LinkState.STOPPED);
  }

  /** Try now (the page came back to the foreground, or the network returned). */
  nudge() {
    if (this.state === LinkState.WAITING) {
      clearTimeout(this.timer);
      this._connect();
    }
  }

  _set(state) {
    this.state = state;
    this.onState(state);
  }

  _connect() {
    if (this.stopped) return;
    this._set(LinkState.CONNECTING);
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this._retry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this._set(LinkState.OPEN);
    };
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      this.onEvent(event);
    };
    socket.onclose = async () => {
      if (this.socket === socket) this.socket = null;
      if (this.stopped) return;
      let allowed = true;
      try {
        allowed = await this.stillAllowed();
      } catch {
        allowed = true;
      }
      if (allowed) this._retry();
      else this.stop();
    };
  }

  _retry() {
    if (this.stopped) return;
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this._set(LinkState.WAITING);
    this.timer = setTimeout(() => this._connect(), delay);
  }
}
