// Presence: "I'm home" / "I'm away" from the phone, and (if the person allows it) the phone's
// position against the home's radius, so presence rules work from phones.

import { h, clear, field } from "../dom.js";
import { t, formatValue } from "../i18n.js";
import { loading } from "./widgets.js";

const PERSON_KEY_HINT = "me";

function distanceM(a, b) {
  const R = 6371000;
  const rad = (deg) => (deg * Math.PI) / 180;
  const dLat = rad(b.latitude - a.latitude);
  const dLon = rad(b.longitude - a.longitude);
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(s));
}

export function presenceScreen(app) {
  const state = app.state;
  const api = app.api;
  const session = api.session || {};
  const defaultName = (session.email || "").split("@")[0] || PERSON_KEY_HINT;
  const [nameField, name] = field(t("presence.person"), { type: "text", name: "person", value: defaultName, required: true });
  const people = h("ul", { className: "list people", id: "people" }, loading());
  const geoResult = h("p", { className: "hint", id: "geo-result", "aria-live": "polite" });
  let home = null;

  async function render() {
    let data;
    try {
      data = await api.presence(state.hubId);
    } catch (err) {
      clear(people).append(h("li", {}, state.hubOnline ? err.message : t("hub.needsOnline")));
      return;
    }
    home = data.home_location || null;
    clear(people);
    const entries = Object.entries(data.people || {});
    if (!entries.length) people.append(h("li", {}, t("presence.nobody")));
    for (const [person, info] of entries) {
      const atHome = typeof info === "object" && info !== null ? info.home : Boolean(info);
      people.append(h("li", { className: "row", dataset: { person } }, h("span", { className: "grow" }, person), h("strong", {}, atHome ? t("presence.atHome") : t("presence.away"))));
    }
    geoButton.hidden = !home || !("geolocation" in navigator);
  }

  async function say(isHome) {
    const person = name.value.trim();
    if (!person) return;
    try {
      await api.setPresence(state.hubId, person, isHome);
      app.toast(isHome ? t("presence.saidHome") : t("presence.saidAway"));
      render();
    } catch (err) {
      app.fail(err);
    }
  }

  const homeButton = h("button", { type: "button", className: "primary", id: "im-home" }, t("presence.imHome"));
  const awayButton = h("button", { type: "button", id: "im-away" }, t("presence.imAway"));
  homeButton.addEventListener("click", () => say(true));
  awayButton.addEventListener("click", () => say(false));
  const geoButton = h("button", { type: "button", id: "use-location", hidden: true }, t("presence.useLocation"));
  geoButton.addEventListener("click", () => {
    geoResult.textContent = t("presence.locating");
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const here = { latitude: position.coords.latitude, longitude: position.coords.longitude };
        const metres = distanceM(here, home);
        const inside = metres <= (home.radius_m || 150);
        geoResult.textContent = t(inside ? "presence.insideRadius" : "presence.outsideRadius", {
          distance: formatValue(Math.round(metres), "m"),
        });
        say(inside);
      },
      () => {
        geoResult.textContent = t("presence.noLocation");
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 0 },
    );
  });
  render();
  const unsubscribe = state.subscribe((kind) => {
    if (kind === "presence") render();
  });
  const el = h("section", { className: "screen presence-screen" },
    h("div", { className: "card" }, nameField, h("div", { className: "actions" }, homeButton, awayButton), geoButton, geoResult),
    h("h2", {}, t("presence.who")), people);
  return { el, title: t("presence.title"), dispose: unsubscribe };
}
