// One device: every property with the control its type calls for. The air conditioner gets
// its room temperature large, then power, mode, set point, fan and swing.

import { h, clear } from "../dom.js";
import { t, formatAgo, formatValue } from "../i18n.js";
import { propertyControl, isAircon } from "../controls.js";
import { emptyNote } from "./widgets.js";
import { pendingList } from "./pending.js";

const AIRCON_ORDER = ["power", "mode", "target_temperature", "fan_speed", "swing"];

function ordered(device) {
  const props = device.properties.filter((p) => !p.name.startsWith("raw"));
  if (!isAircon(device)) {
    return [...props.filter((p) => p.writable), ...props.filter((p) => !p.writable)];
  }
  const rank = (p) => {
    const i = AIRCON_ORDER.indexOf(p.name);
    return i === -1 ? AIRCON_ORDER.length + (p.writable ? 0 : 1) : i;
  };
  return [...props].sort((a, b) => rank(a) - rank(b));
}

export function deviceScreen(app, deviceId) {
  const state = app.state;
  let device = state.devices.get(deviceId);
  if (!device) {
    return { el: h("section", { className: "screen" }, emptyNote(t("device.missing"))), title: t("device.title") };
  }
  const controls = [];
  const list = h("div", { className: "controls" });
  const hero = h("div", { className: "hero" });
  const status = h("p", { className: "device-status" });
  const pendingBox = h("div", { className: "pending" });

  function renderHero(d) {
    clear(hero);
    if (!isAircon(d)) return;
    const room = state.value(d, "temperature");
    hero.append(
      h("span", { className: "hero-label" }, t("aircon.roomNow")),
      h("span", { className: "hero-value", dataset: { value: "room" } }, room === undefined ? "—" : formatValue(room, "°C")),
    );
  }

  function renderStatus(d) {
    const parts = [];
    if (d.room) parts.push(d.room);
    parts.push(d.online === false ? t("device.offlineReason", { reason: d.offline_reason || "" }) : t("device.online"));
    if (!state.hubOnline && d.synced_at) parts.push(t("device.asOf", { age: formatAgo(d.synced_at) }));
    status.textContent = parts.join(" · ");
  }

  function renderPending() {
    clear(pendingBox);
    const items = pendingList(app, { deviceId: device.id, limit: 5 });
    if (items) pendingBox.append(h("h2", {}, t("pending.title")), items);
  }

  function build() {
    clear(list);
    controls.length = 0;
    for (const p of ordered(device)) {
      const control = propertyControl(app, device, p);
      controls.push(control);
      list.append(control.el);
    }
    renderHero(device);
    renderStatus(device);
    renderPending();
  }

  build();
  const tick = setInterval(renderPending, 1000);
  const unsubscribe = state.subscribe((kind, detail) => {
    if (kind === "device" && detail === device.id) {
      device = state.devices.get(device.id);
      for (const control of controls) control.update(device);
      renderHero(device);
      renderStatus(device);
    } else if (kind === "devices") {
      const next = state.devices.get(device.id);
      if (next) {
        device = next;
        build();
      }
    } else if (kind === "queue") {
      renderPending();
    } else if (kind === "hub") {
      renderStatus(device);
    }
  });
  const el = h(
    "section",
    { className: isAircon(device) ? "screen device-screen aircon" : "screen device-screen", dataset: { deviceId: device.id } },
    h("p", {}, h("a", { href: app.hubHash("home"), className: "back" }, `‹ ${t("nav.home")}`)),
    status,
    hero,
    pendingBox,
    list,
  );
  return {
    el,
    title: device.name,
    dispose() {
      clearInterval(tick);
      unsubscribe();
    },
  };
}
