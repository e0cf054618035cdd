// Writes the relay holds for an offline hub: time left while queued, then applied / expired.

import { h } from "../dom.js";
import { t, formatDuration, propertyLabel } from "../i18n.js";
import { describe, spec } from "../controls.js";

function valuesText(device, values) {
  return Object.entries(values || {})
    .map(([name, value]) => {
      const p = device && spec(device, name);
      return `${propertyLabel(name)} ${p ? describe(p, value) : String(value)}`;
    })
    .join(", ");
}

export function pendingList(app, { limit = 20, deviceId = null } = {}) {
  const state = app.state;
  const now = Date.now() / 1000;
  let items = state.queue.filter((item) => !deviceId || item.device_id === deviceId);
  items = items.sort((a, b) => (b.created || 0) - (a.created || 0)).slice(0, limit);
  if (!items.length) return null;
  return h(
    "ul",
    { className: "list queue" },
    items.map((item) => {
      const device = state.devices.get(item.device_id);
      const values = item.values && item.values.values ? item.values.values : item.values;
      let status;
      if (item.status === "queued") {
        status = t("pending.timeLeft", { left: formatDuration((item.expires_at || now) - now) });
      } else {
        status = t(`pending.${item.status}`);
      }
      return h(
        "li",
        { className: `queue-item ${item.status}`, dataset: { queueId: item.id, status: item.status } },
        h("strong", {}, device ? device.name : item.device_id),
        " ",
        h("span", {}, valuesText(device, values)),
        h("br"),
        h("small", { className: "status" }, status),
      );
    }),
  );
}
