// The one module that knows whether the app talks to a relay (/v1/...) or to a hub on the LAN
// (/api/v1/...). Screens call these methods and never build URLs themselves.
//
// Sessions live in an HttpOnly cookie the page cannot read; the CSRF token comes in the session
// JSON and is kept in memory only (never localStorage), then sent as X-CSRF-Token on every
// request that changes something.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const JSON_TYPE = "application/json";

function newKey() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Api {
  constructor(mode) {
    this.mode = mode; // "relay" | "hub"
    this.csrf = null;
    this.session = null;
    this.onSignedOut = () => {};
  }

  static async load() {
    const response = await fetch("/app-config.json", { cache: "no-store" });
    const config = await response.json();
    return new Api(config.mode === "hub" ? "hub" : "relay");
  }

  get isRelay() {
    return this.mode === "relay";
  }

  async request(method, path, body, extraHeaders = {}) {
    const headers = { Accept: JSON_TYPE, ...extraHeaders };
    if (body !== undefined) headers["Content-Type"] = JSON_TYPE;
    if (method !== "GET" && this.csrf) headers["X-CSRF-Token"] = this.csrf;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (err) {
      throw new ApiError(0, String(err && err.message ? err.message : err));
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { error: { message: text.slice(0, 200) } };
      }
    }
    if (!response.ok) {
      const message = (data && data.error && data.error.message) || response.statusText;
      if (response.status === 401 && this.session) {
        this.session = null;
        this.csrf = null;
        this.onSignedOut();
      }
      throw new ApiError(response.status, message);
    }
    return data === null ? {} : data;
  }

  // ---- sessions ----
  async currentSession() {
    try {
      const path = this.isRelay ? "/v1/sessions/current" : "/api/v1/session";
      this._setSession(await this.request("GET", path));
    } catch (err) {
      if (err.status === 401 || err.status === 404) {
        this._setSession(null);
        return null;
      }
      throw err;
    }
    return this.session;
  }

  _setSession(data) {
    this.session = data;
    this.csrf = data && data.csrf ? data.csrf : null;
  }

  async signIn(email, password) {
    const data = await this.request("POST", "/v1/sessions", { email, password, cookie: true });
    this._setSession(data);
    return data;
  }

  async signUp(email, password) {
    await this.request("POST", "/v1/accounts", { email, password });
    return this.signIn(email, password);
  }

  async pair(code) {
    const data = await this.request("POST", "/api/v1/pair", {
      code,
      client_name: "phone app",
      cookie: true,
    });
    this._setSession(data);
    return data;
  }

  async signOut() {
    try {
      await this.request("DELETE", this.isRelay ? "/v1/sessions/current" : "/api/v1/session");
    } finally {
      this._setSession(null);
    }
  }

  // ---- hubs ----
  async hubs() {
    if (this.isRelay) return (await this.request("GET", "/v1/hubs")).hubs;
    const health = await this.request("GET", "/api/v1/health");
    return [
      {
        hub_id: health.hub_id,
        name: health.name,
        online: true,
        last_seen: Date.now() / 1000,
        queued_writes: 0,
        role: "local",
      },
    ];
  }

  async hub(hubId) {
    if (this.isRelay) return this.request("GET", `/v1/hubs/${enc(hubId)}`);
    return (await this.hubs())[0];
  }

  claim(code) {
    return this.request("POST", "/v1/hubs/claim", { code });
  }

  async invitations() {
    if (!this.isRelay) return [];
    return (await this.request("GET", "/v1/invitations")).invitations || [];
  }

  acceptInvitation(id) {
    return this.request("POST", `/v1/invitations/${enc(id)}/accept`);
  }

  declineInvitation(id) {
    return this.request("POST", `/v1/invitations/${enc(id)}/decline`);
  }

  members(hubId) {
    return this.request("GET", `/v1/hubs/${enc(hubId)}/members`);
  }

  invite(hubId, email) {
    return this.request("POST", `/v1/hubs/${enc(hubId)}/invitations`, { email });
  }

  cancelInvitation(hubId, id) {
    return this.request("DELETE", `/v1/hubs/${enc(hubId)}/invitations/${enc(id)}`);
  }

  removeMember(hubId, accountId) {
    return this.request("DELETE", `/v1/hubs/${enc(hubId)}/members/${enc(accountId)}`);
  }

  unclaim(hubId) {
    return this.request("DELETE", `/v1/hubs/${enc(hubId)}`);
  }

  // ---- devices ----
  async devices(hubId) {
    if (this.isRelay) return this.request("GET", `/v1/hubs/${enc(hubId)}/devices`);
    const data = await this.request("GET", "/api/v1/devices");
    return { hub_online: true, devices: data.devices };
  }

  /** Ask for new values. Resolves to {queued: bool, id?, expires_at?}. */
  async setDesired(hubId, deviceId, values, ttlS) {
    const body = { values };
    if (ttlS) body.ttl_s = ttlS;
    const headers = { "Idempotency-Key": newKey() };
    const path = this.isRelay
      ? `/v1/hubs/${enc(hubId)}/devices/${enc(deviceId)}/desired`
      : `/api/v1/devices/${enc(deviceId)}/desired`;
    const answer = await this.request("PUT", path, body, headers);
    return { queued: Boolean(answer && answer.queued), ...answer };
  }

  runCommand(hubId, deviceId, command) {
    return this.hubApi(
      hubId,
      "POST",
      `devices/${enc(deviceId)}/commands/${enc(command)}`,
      { params: {} },
    );
  }

  async queue(hubId) {
    if (!this.isRelay) return [];
    return (await this.request("GET", `/v1/hubs/${enc(hubId)}/queue`)).queue || [];
  }

  /** The hub's own API: through the relay's proxy, or directly on the LAN. */
  hubApi(hubId, method, tail, body) {
    const path = this.isRelay ? `/v1/hubs/${enc(hubId)}/api/${tail}` : `/api/v1/${tail}`;
    return this.request(method, path, body);
  }

  history(hubId, deviceId, property, start, end, resolution) {
    const query = new URLSearchParams({
      property,
      start: String(start),
      end: String(end),
      resolution: String(resolution),
    });
    return this.hubApi(hubId, "GET", `devices/${enc(deviceId)}/history?${query}`);
  }

  async rules(hubId) {
    return (await this.hubApi(hubId, "GET", "rules")).rules || [];
  }

  setRuleEnabled(hubId, ruleId, enabled) {
    return this.hubApi(hubId, "POST", `rules/${enc(ruleId)}/${enabled ? "enable" : "disable"}`);
  }

  async scenes(hubId) {
    return (await this.hubApi(hubId, "GET", "scenes")).scenes || [];
  }

  runScene(hubId, name) {
    return this.hubApi(hubId, "POST", `scenes/${enc(name)}/run`);
  }

  async notifications(hubId, state = "all") {
    return (await this.hubApi(hubId, "GET", `notifications?state=${state}`)).notifications || [];
  }

  /** How many entries wait for someone (the hub counts them all, not just one page). */
  async openNotificationCount(hubId) {
    const data = await this.hubApi(hubId, "GET", "notifications?state=open&limit=1");
    return typeof data.open === "number" ? data.open : (data.notifications || []).length;
  }

  resolveNotification(hubId, id) {
    return this.hubApi(hubId, "POST", `notifications/${enc(id)}/resolve`);
  }

  presence(hubId) {
    return this.hubApi(hubId, "GET", "presence");
  }

  setPresence(hubId, person, home) {
    return this.hubApi(hubId, "POST", "presence", { person, home });
  }

  // ---- push (relay only: push needs the relay's HTTPS origin) ----
  async pushKey() {
    return (await this.request("GET", "/v1/push/key")).public_key;
  }

  subscribePush(subscription) {
    return this.request("POST", "/v1/push/subscriptions", subscription);
  }

  unsubscribePush(endpoint) {
    return this.request("DELETE", "/v1/push/subscriptions", { endpoint });
  }

  // ---- live events ----
  eventsUrl(hubId) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = this.isRelay ? `/v1/hubs/${enc(hubId)}/events` : "/api/v1/events";
    return `${scheme}//${location.host}${path}`;
  }
}

function enc(part) {
  return encodeURIComponent(part);
}
