// The app shell: finds out whether it runs on a relay or on a hub, checks the session, and
// shows one screen at a time from the URL's #fragment (#/hubs, #/h/<hub>/home, ...).

import { Api } from "./api.js";
import { h, clear } from "./dom.js";
import { t, onLanguageChange, formatAgo } from "./i18n.js";
import { HubState } from "./store.js";
import { LinkState } from "./live.js";
import { registerServiceWorker } from "./push.js";
import { signInScreen } from "./screens/signin.js";
import { hubsScreen } from "./screens/hubs.js";
import { homeScreen } from "./screens/home.js";
import { deviceScreen } from "./screens/device.js";
import { energyScreen } from "./screens/energy.js";
import { automationsScreen } from "./screens/automations.js";
import { inboxScreen } from "./screens/inbox.js";
import { presenceScreen } from "./screens/presence.js";
import { settingsScreen } from "./screens/settings.js";

const HUB_SCREENS = {
  home: homeScreen,
  device: deviceScreen,
  energy: energyScreen,
  automations: automationsScreen,
  inbox: inboxScreen,
  presence: presenceScreen,
  settings: settingsScreen,
};
const TABS = [
  ["home", "nav.home", "⌂"],
  ["energy", "nav.energy", "⚡"],
  ["automations", "nav.automations", "↻"],
  ["inbox", "nav.inbox", "✉"],
  ["settings", "nav.settings", "⚙"],
];

class App {
  constructor(root) {
    this.root = root;
    this.api = null;
    this.state = null;
    this.current = null;
    this.toastTimer = null;
  }

  async start() {
    this.api = await Api.load();
    document.body.dataset.mode = this.api.mode;
    this.api.onSignedOut = () => this.signedOut();
    try {
      await this.api.currentSession();
    } catch (err) {
      if (err.status === 0) {
        this.showOffline();
        return;
      }
    }
    window.addEventListener("hashchange", () => this.route());
    onLanguageChange(() => this.route());
    setInterval(() => this.renderBanner(), 15000);
    registerServiceWorker();
    this.route();
  }

  /** Opened without a network (from the service worker's copy): say so, retry when back. */
  showOffline() {
    const retry = h("button", { type: "button", className: "primary", id: "retry" }, t("offline.retry"));
    const again = () => window.location.reload();
    retry.addEventListener("click", again);
    window.addEventListener("online", again, { once: true });
    clear(this.root).append(
      h("header", { className: "top" }, h("h1", {}, t("app.name"))),
      h("main", { id: "main" }, h("section", { className: "card offline-start", role: "status" },
        h("h2", {}, t("offline.title")), h("p", {}, t("offline.body")), retry)),
    );
  }

  signedOut() {
    this.closeHub();
    this.go("#/signin");
  }

  go(hash) {
    if (location.hash === hash) this.route();
    else location.hash = hash;
  }

  hubHash(screen, extra) {
    const base = `#/h/${encodeURIComponent(this.state.hubId)}/${screen}`;
    return extra ? `${base}/${encodeURIComponent(extra)}` : base;
  }

  toast(message, kind = "info") {
    const box = document.getElementById("toast") || h("div", { id: "toast", role: "status" });
    if (!box.isConnected) document.body.append(box);
    box.textContent = message;
    box.className = `toast ${kind}`;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      box.className = "toast hidden";
    }, 4000);
  }

  fail(err) {
    this.toast(t("error.generic", { message: err && err.message ? err.message : String(err) }), "error");
  }

  closeHub() {
    if (this.state) this.state.stop();
    this.state = null;
  }

  async openHub(hubId) {
    if (this.state && this.state.hubId === hubId) return this.state;
    this.closeHub();
    const state = new HubState(this.api, hubId);
    this.state = state;
    await state.load();
    state.start();
    state.subscribe((kind) => {
      if (kind === "hub" || kind === "link" || kind === "devices") this.renderBanner();
      if (kind === "inbox") this.refreshInboxBadge();
      if (kind === "gone" && this.state === state) {
        // Removed from this home (or it was unclaimed) while looking at it.
        this.closeHub();
        this.toast(t("hubs.gone"), "error");
        this.go(this.api.isRelay ? "#/hubs" : "#/signin");
      }
    });
    this.refreshInboxBadge();
    return state;
  }

  async refreshInboxBadge() {
    const state = this.state;
    if (!state) return;
    try {
      state.openNotifications = await this.api.openNotificationCount(state.hubId);
    } catch {
      state.openNotifications = 0;
    }
    this.refreshInboxBadgeCount();
  }

  async route() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    if (this.current && this.current.dispose) this.current.dispose();
    this.current = null;
    if (!this.api.session) {
      if (parts[0] !== "signin") {
        history.replaceState(null, "", "#/signin");
      }
      this.show(signInScreen(this), null);
      return;
    }
    if (parts[0] === "h" && parts[1]) {
      const screen = HUB_SCREENS[parts[2]] ? parts[2] : "home";
      try {
        await this.openHub(parts[1]);
      } catch (err) {
        this.closeHub();
        if (err.status === 404) this.toast(t("hubs.gone"), "error");
        else this.fail(err);
        this.go("#/hubs");
        return;
      }
      this.show(HUB_SCREENS[screen](this, parts[3]), screen);
      return;
    }
    if (!this.api.isRelay) {
      // On the LAN there is exactly one hub: the one serving this page.
      const [hub] = await this.api.hubs();
      this.go(`#/h/${encodeURIComponent(hub.hub_id)}/home`);
      return;
    }
    this.closeHub();
    this.show(hubsScreen(this), null);
  }

  show(screen, tab) {
    this.current = screen;
    const main = h("main", { id: "main", tabIndex: -1 }, screen.el);
    const header = h(
      "header",
      { className: "top" },
      h("h1", {}, screen.title || t("app.name")),
      this.state && tab
        ? h("span", { className: "hub-name", id: "hub-name" }, this.state.hub && this.state.hub.name)
        : null,
    );
    const banner = h("div", { id: "banner", "aria-live": "polite" });
    clear(this.root).append(header, banner, main);
    if (this.state && tab) this.root.append(this.nav(tab === "device" ? "home" : tab));
    document.title = screen.title ? `${screen.title} · homehub` : "homehub";
    this.renderBanner();
    this.refreshInboxBadgeCount();
  }

  refreshInboxBadgeCount() {
    const badge = document.getElementById("inbox-badge");
    if (badge && this.state) {
      badge.textContent = this.state.openNotifications ? String(this.state.openNotifications) : "";
      badge.hidden = !this.state.openNotifications;
    }
  }

  nav(active) {
    return h(
      "nav",
      { className: "tabs", "aria-label": t("nav.label") },
      TABS.map(([name, key, icon]) =>
        h(
          "a",
          {
            href: this.hubHash(name),
            className: name === active ? "tab active" : "tab",
            "aria-current": name === active ? "page" : false,
          },
          h("span", { className: "icon", "aria-hidden": "true" }, icon),
          h("span", { className: "label" }, t(key)),
          name === "inbox" ? h("span", { className: "badge", id: "inbox-badge", hidden: true }) : null,
        ),
      ),
    );
  }

  renderBanner() {
    const banner = document.getElementById("banner");
    if (!banner) return;
    clear(banner);
    const state = this.state;
    if (!state || !this.current) return;
    if (!state.hubOnline) {
      const asOf = state.stateAsOf();
      banner.append(
        h(
          "div",
          { className: "banner offline", id: "offline-banner", role: "status" },
          h("strong", {}, t("banner.hubOffline")),
          " ",
          asOf ? t("banner.lastKnown", { age: formatAgo(asOf) }) : t("banner.noState"),
        ),
      );
    } else if (state.link === LinkState.WAITING) {
      banner.append(h("div", { className: "banner reconnecting" }, t("banner.reconnecting")));
    }
  }
}

const app = new App(document.getElementById("app"));
app.start().catch((err) => {
  document.getElementById("app").textContent = `homehub: ${err && err.message ? err.message : err}`;
});
