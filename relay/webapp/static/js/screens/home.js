// Home: rooms with a live card per device, writes waiting for the hub, and the scenes to run.

import { h, clear } from "../dom.js";
import { t } from "../i18n.js";
import { summary, spec, send, isAircon } from "../controls.js";
import { switchButton, emptyNote } from "./widgets.js";
import { pendingList } from "./pending.js";

function deviceCard(app, device) {
  const state = app.state;
  const link = h(
    "a",
    { className: "card-link", href: app.hubHash("device", device.id) },
    h("strong", { className: "device-name" }, device.name),
  );
  const line = h("span", { className: "summary", dataset: { role: "summary" } });
  const flags = h("span", { className: "flags" });
  const power = spec(device, "power");
  let toggle = null;
  if (power && power.writable) {
    toggle = switchButton(
      t("control.powerOf", { name: device.name }),
      Boolean(state.value(device, "power")),
      (next) => {
        toggle.setChecked(next);
        send(app, state.devices.get(device.id) || device, { power: next });
      },
      { dataset: { prop: "power" } },
    );
  }
  const card = h(
    "article",
    {
      className: isAircon(device) ? "device-card aircon" : "device-card",
      dataset: { deviceId: device.id },
    },
    h("div", { className: "card-main" }, link, line, flags),
    toggle,
  );
  card.update = (d) => {
    line.textContent = summary(app, d) || "—";
    if (toggle) toggle.setChecked(Boolean(state.value(d, "power")));
    clear(flags);
    if (d.online === false) flags.append(h("span", { className: "flag warn" }, t("device.offline")));
    if (d.assumed_state) flags.append(h("span", { className: "flag" }, t("device.assumed")));
    const waiting = state.pending().filter((item) => item.device_id === d.id);
    if (waiting.length) flags.append(h("span", { className: "flag pending" }, t("device.waiting")));
    card.classList.toggle("stale", !state.hubOnline);
  };
  card.update(device);
  return card;
}

function roomsOf(devices) {
  const rooms = new Map();
  for (const device of devices) {
    const room = device.room || "";
    if (!rooms.has(room)) rooms.set(room, []);
    rooms.get(room).push(device);
  }
  return [...rooms.entries()].sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)));
}

export function homeScreen(app) {
  const state = app.state;
  const cards = new Map();
  const roomsBox = h("div", { className: "rooms", id: "rooms" });
  const pendingBox = h("section", { className: "pending", id: "pending", "aria-label": t("pending.title") });

  function renderRooms() {
    clear(roomsBox);
    cards.clear();
    const devices = [...state.devices.values()].sort((a, b) => a.name.localeCompare(b.name));
    if (!devices.length) {
      roomsBox.append(emptyNote(t("home.noDevices")));
      return;
    }
    for (const [room, list] of roomsOf(devices)) {
      const section = h(
        "section",
        { className: "room", dataset: { room } },
        h("h2", {}, room || t("home.noRoom")),
      );
      for (const device of list) {
        const card = deviceCard(app, device);
        cards.set(device.id, card);
        section.append(card);
      }
      roomsBox.append(section);
    }
  }

  function renderPending() {
    clear(pendingBox);
    const list = pendingList(app, { limit: 5 });
    if (list) pendingBox.append(h("h2", {}, t("pending.title")), list);
  }

  renderRooms();
  renderPending();
  const tick = setInterval(renderPending, 1000);
  const unsubscribe = state.subscribe((kind, detail) => {
    if (kind === "devices") renderRooms();
    else if (kind === "device") {
      const card = cards.get(detail);
      if (card) card.update(state.devices.get(detail));
    } else if (kind === "queue") {
      renderPending();
      for (const [id, card] of cards) card.update(state.devices.get(id));
    } else if (kind === "hub") {
      for (const [id, card] of cards) card.update(state.devices.get(id));
    }
  });
  const el = h(
    "section",
    { className: "screen home-screen" },
    h(
      "p",
      { className: "quick" },
      h("a", { href: app.hubHash("presence"), className: "chip" }, t("presence.title")),
      h("a", { href: app.hubHash("automations"), className: "chip" }, t("scenes.title")),
    ),
    pendingBox,
    roomsBox,
  );
  return {
    el,
    title: t("home.title"),
    dispose() {
      clearInterval(tick);
      unsubscribe();
    },
  };
}
