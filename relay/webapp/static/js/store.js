// What the app knows about the open hub: its devices with their last reported values, whether
// the hub is reachable, writes waiting in the relay's queue, and the live events that keep it
// all current. Screens read from here and subscribe to changes.

import { LiveEvents, LinkState } from "./live.js";

const QUEUE_POLL_MS = 2000;
const KEEP_FINISHED_S = 6 * 3600;

export class HubState {
  constructor(api, hubId) {
    this.api = api;
    this.hubId = hubId;
    this.hub = null;
    this.devices = new Map();
    this.hubOnline = true;
    this.lastSeen = null;
    this.queue = [];
    this.openNotifications = 0;
    this.link = LinkState.STOPPED;
    this.listeners = new Set();
    this.live = null;
    this.queueTimer = null;
    this.reloadTimer = null;
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(kind, detail) {
    for (const fn of [...this.listeners]) {
      try {
        fn(kind, detail);
      } catch (err) {
        console.error(err);
      }
    }
  }

  async load() {
    const [hub, data] = await Promise.all([
      this.api.hub(this.hubId),
      this.api.devices(this.hubId),
    ]);
    this.hub = hub;
    this.lastSeen = hub.last_seen ?? null;
    this._setDevices(data);
    await this.refreshQueue();
    this.emit("hub");
  }

  async reloadDevices() {
    this._setDevices(await this.api.devices(this.hubId));
  }

  _setDevices(data) {
    const previous = this.devices;
    this.devices = new Map(data.devices.map((d) => [d.id, d]));
    // A reload can race the event stream: the relay's copy may be older than an event this
    // page already applied. Keep whichever value of each property is newer.
    for (const [id, device] of this.devices) {
      const old = previous.get(id);
      const oldReported = old && old.shadow && old.shadow.reported;
      if (!oldReported) continue;
      device.shadow = device.shadow || { reported: {}, desired: {} };
      const reported = device.shadow.reported || (device.shadow.reported = {});
      for (const [name, entry] of Object.entries(oldReported)) {
        const fresh = reported[name];
        if (!fresh || (entry.ts || 0) > (fresh.ts || 0)) reported[name] = entry;
      }
    }
    this._setOnline(data.hub_online !== false);
    this.emit("devices");
  }

  _setOnline(online, ts) {
    if (online === this.hubOnline) return;
    this.hubOnline = online;
    if (!online && ts) this.lastSeen = ts;
    if (online) this.lastSeen = Date.now() / 1000;
    this.emit("hub");
  }

  /** When the state shown was last known to be current (seconds since the epoch). */
  stateAsOf() {
    if (this.hubOnline) return Date.now() / 1000;
    let newest = this.lastSeen || 0;
    for (const device of this.devices.values()) {
      if (typeof device.synced_at === "number") newest = Math.max(newest, device.synced_at);
    }
    return newest || null;
  }

  start() {
    this.live = new LiveEvents(this.api.eventsUrl(this.hubId), {
      onEvent: (event) => this.apply(event),
      onState: (state) => {
        this.link = state;
        this.emit("link", state);
      },
      stillAllowed: async () => {
        try {
          if (!this.api.isRelay) {
            // On the LAN the hub itself answers: is this phone's pairing still valid?
            if (await this.api.currentSession()) return true;
            this.emit("gone", 401);
            return false;
          }
          await this.api.hub(this.hubId);
          return true;
        } catch (err) {
          if (err.status === 404 || err.status === 401 || err.status === 403) {
            this.emit("gone", err.status);
            return false;
          }
          return true; // the network or the server is down: keep trying
        }
      },
    });
    this.live.start();
    this._onVisible = () => {
      if (document.visibilityState === "visible" && this.live) this.live.nudge();
    };
    document.addEventListener("visibilitychange", this._onVisible);
    window.addEventListener("online", this._onVisible);
  }

  stop() {
    if (this.live) this.live.stop();
    this.live = null;
    clearTimeout(this.queueTimer);
    clearTimeout(this.reloadTimer);
    document.removeEventListener("visibilitychange", this._onVisible);
    window.removeEventListener("online", this._onVisible);
    this.listeners.clear();
  }

  _reloadSoon() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadDevices().catch(() => {});
    }, 150);
  }

  apply(event) {
    const device = event.device ? this.devices.get(event.device) : null;
    switch (event.type) {
      case "hello":
        if (event.online !== undefined) this._setOnline(Boolean(event.online));
        this._reloadSoon();
        this.refreshQueue();
        break;
      case "state_changed":
        if (!device) break;
        device.shadow = device.shadow || { reported: {}, desired: {} };
        for (const [name, value] of Object.entries(event.changes || {})) {
          device.shadow.reported[name] = { value, ts: event.ts };
          if (device.shadow.desired) delete device.shadow.desired[name];
        }
        device.synced_at = event.ts;
        this.emit("device", device.id);
        break;
      case "desired_changed":
        if (!device) break;
        device.shadow = device.shadow || { reported: {}, desired: {} };
        device.shadow.desired = device.shadow.desired || {};
        for (const [name, value] of Object.entries(event.values || {})) {
          device.shadow.desired[name] = { value, ts: event.ts, command_id: event.command_id };
        }
        this.emit("device", device.id);
        break;
      case "availability":
        if (!device) break;
        device.online = Boolean(event.online);
        device.offline_reason = event.reason || "";
        this.emit("device", device.id);
        break;
      case "command_result":
        this.emit("command", event);
        break;
      case "device_added":
      case "device_updated":
      case "device_removed":
      case "overflow":
        this._reloadSoon();
        break;
      case "hub_online":
        this._setOnline(true);
        this._reloadSoon();
        this.refreshQueue();
        break;
      case "hub_offline":
        this._setOnline(false, event.ts);
        break;
      case "queue":
        this.refreshQueue();
        break;
      case "notification":
      case "notification_resolved":
        this.emit("inbox", event);
        break;
      case "presence_changed":
        this.emit("presence", event);
        break;
      case "rule_fired":
        this.emit("rules", event);
        break;
      case "backup":
        this.emit("backup", event);
        break;
      default:
        break;
    }
  }

  value(device, name) {
    const entry = device.shadow && device.shadow.reported && device.shadow.reported[name];
    return entry ? entry.value : undefined;
  }

  desired(device, name) {
    const entry = device.shadow && device.shadow.desired && device.shadow.desired[name];
    return entry ? entry.value : undefined;
  }

  /** Ask a device for values; a queued answer (hub away) shows up in the pending list. */
  async write(deviceId, values) {
    const answer = await this.api.setDesired(this.hubId, deviceId, values);
    if (answer.queued) {
      this.queue = [
        ...this.queue.filter((item) => item.id !== answer.id),
        {
          id: answer.id,
          device_id: deviceId,
          values,
          created: Date.now() / 1000,
          expires_at: answer.expires_at,
          status: "queued",
        },
      ];
      this.emit("queue");
      this._pollQueue();
    }
    return answer;
  }

  async refreshQueue() {
    if (!this.api.isRelay) return;
    try {
      const items = await this.api.queue(this.hubId);
      const now = Date.now() / 1000;
      this.queue = items.filter(
        (item) => item.status === "queued" || now - (item.created || 0) < KEEP_FINISHED_S,
      );
      this.emit("queue");
    } catch {
      return;
    }
    this._pollQueue();
  }

  pending() {
    return this.queue.filter((item) => item.status === "queued");
  }

  _pollQueue() {
    clearTimeout(this.queueTimer);
    if (this.pending().length === 0) return;
    this.queueTimer = setTimeout(() => this.refreshQueue(), QUEUE_POLL_MS);
  }
}
