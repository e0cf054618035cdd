// Energy: what the meter, the solar panels and the battery do now, and the last 24 hours.

import { h, clear } from "../dom.js";
import { t, formatValue } from "../i18n.js";
import { spec } from "../controls.js";
import { lineChart } from "../chart.js";
import { emptyNote, loading } from "./widgets.js";

const COLOURS = ["c1", "c2", "c3", "c4"];
const DAY = 86400;
const RESOLUTION = 900;

function isEnergy(device) {
  return device.properties.some((p) => ["power_w", "energy_kwh", "battery_soc"].includes(p.name));
}

function tile(app, device) {
  const state = app.state;
  const rows = [];
  for (const name of ["power_w", "battery_soc", "energy_kwh", "energy_export_kwh", "battery_mode"]) {
    const p = spec(device, name);
    const value = state.value(device, name);
    if (!p || value === undefined) continue;
    let text = typeof value === "number" ? formatValue(value, p.unit, name === "power_w" ? 0 : 1) : String(value);
    if (name === "battery_mode") text = t(`choice.battery_mode.${value}`);
    rows.push(h("div", { className: "metric", dataset: { value: name } }, h("span", {}, t(`prop.${name}`)), h("strong", {}, text)));
  }
  return h("article", { className: "energy-tile", dataset: { deviceId: device.id } }, h("h3", {}, device.name), ...rows);
}

export function energyScreen(app) {
  const state = app.state;
  const tiles = h("div", { className: "tiles", id: "energy-tiles" });
  const chartBox = h("figure", { className: "chart-box", id: "energy-chart" }, loading());
  let devices = [];

  function renderTiles() {
    devices = [...state.devices.values()].filter(isEnergy).sort((a, b) => a.name.localeCompare(b.name));
    clear(tiles);
    if (!devices.length) tiles.append(emptyNote(t("energy.none")));
    for (const device of devices) tiles.append(tile(app, device));
  }

  async function renderChart() {
    const end = Math.floor(Date.now() / 1000);
    const start = end - DAY;
    const withPower = devices.filter((d) => spec(d, "power_w"));
    if (!withPower.length) {
      clear(chartBox);
      return;
    }
    let series;
    try {
      series = await Promise.all(
        withPower.map(async (device, i) => {
          const data = await app.api.history(state.hubId, device.id, "power_w", start, end, RESOLUTION);
          return { name: device.name, colour: COLOURS[i % COLOURS.length], points: data.points };
        }),
      );
    } catch (err) {
      clear(chartBox).append(emptyNote(state.hubOnline ? err.message : t("energy.historyOffline")));
      return;
    }
    const title = t("energy.chartTitle");
    clear(chartBox).append(
      lineChart({ title, series, start, end, unit: "W" }),
      h(
        "figcaption",
        {},
        h("span", {}, title),
        h("ul", { className: "legend" }, series.map((s) => h("li", { className: s.colour }, s.name))),
      ),
    );
  }

  renderTiles();
  renderChart();
  const unsubscribe = state.subscribe((kind) => {
    if (kind === "device" || kind === "devices") renderTiles();
  });
  const el = h("section", { className: "screen energy-screen" }, h("h2", {}, t("energy.now")), tiles, h("h2", {}, t("energy.day")), chartBox);
  return { el, title: t("energy.title"), dispose: unsubscribe };
}
