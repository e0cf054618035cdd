// Controls that follow each property's type, as devices describe them (hub/model/vocabulary):
// bool -> switch, enum -> picker, a set point -> stepper with its unit, other writable numbers ->
// slider, read-only values -> text, ir_commands -> remote buttons.

import { h, uid } from "./dom.js";
import { t, propertyLabel, choiceLabel, formatValue } from "./i18n.js";
import { switchButton } from "./screens/widgets.js";

const STEPPER_BASES = new Set(["target_temperature"]);

export function baseName(name) {
  return name.split(".")[0];
}

export function isAircon(device) {
  const names = new Set(device.properties.map((p) => p.name));
  return names.has("power") && names.has("mode") && names.has("target_temperature");
}

export function spec(device, name) {
  return device.properties.find((p) => p.name === name);
}

/** A value as text, in the reader's language ("Cool", "24 °C", "On"). */
export function describe(p, value) {
  if (value === undefined || value === null) return "—";
  switch (p.type) {
    case "bool": {
      const base = baseName(p.name);
      const specific = t(`bool.${base}.${value}`);
      return specific !== `bool.${base}.${value}` ? specific : t(value ? "state.on" : "state.off");
    }
    case "enum":
      return choiceLabel(p.name, value);
    case "int":
    case "float":
      return formatValue(value, p.unit);
    case "list":
      return value.length ? value.join(", ") : "—";
    default:
      return String(value);
  }
}

/** Send new values; say so when the relay queued them because the hub is away. */
export async function send(app, device, values) {
  try {
    const answer = await app.state.write(device.id, values);
    if (answer.queued) app.toast(t("queued.toast", { name: device.name }));
    return answer;
  } catch (err) {
    app.fail(err);
    return null;
  }
}

function row(label, id, ...controls) {
  return h(
    "div",
    { className: "control" },
    h(id ? "label" : "span", id ? { htmlFor: id, className: "name" } : { className: "name" }, label),
    h("div", { className: "widget" }, ...controls),
  );
}

function current(app, device, name) {
  return app.state.value(device, name);
}

function boolControl(app, device, p) {
  const label = propertyLabel(p.name);
  const toggle = switchButton(
    `${label}: ${device.name}`,
    Boolean(current(app, device, p.name)),
    (next) => {
      toggle.setChecked(next);
      send(app, device, { [p.name]: next });
    },
    { dataset: { prop: p.name } },
  );
  const text = h("span", { className: "value", dataset: { value: p.name } });
  const update = (d) => {
    const value = current(app, d, p.name);
    toggle.setChecked(Boolean(value));
    text.textContent = describe(p, value);
  };
  update(device);
  return { el: row(label, null, text, toggle), update };
}

function enumControl(app, device, p) {
  const id = uid("sel");
  const value = current(app, device, p.name);
  const select = h(
    "select",
    { id, dataset: { prop: p.name } },
    (p.choices || []).map((choice) =>
      h("option", { value: choice, selected: choice === value }, choiceLabel(p.name, choice)),
    ),
  );
  if (value === undefined) select.selectedIndex = -1;
  select.addEventListener("change", () => send(app, device, { [p.name]: select.value }));
  const update = (d) => {
    const next = current(app, d, p.name);
    if (document.activeElement !== select && next !== undefined) select.value = next;
  };
  return { el: row(propertyLabel(p.name), id, select), update };
}

function stepperControl(app, device, p) {
  const step = p.step && p.step >= 0.5 ? (p.name.startsWith("target_temperature") ? 1 : p.step) : 1;
  let target = null; // what we asked for and the device has not reported yet
  const shown = h("output", { className: "value big", dataset: { value: p.name }, "aria-live": "polite" });
  const label = propertyLabel(p.name);
  const minus = h("button", { type: "button", className: "step", "aria-label": t("control.decrease", { what: label }), dataset: { step: "down", prop: p.name } }, "−");
  const plus = h("button", { type: "button", className: "step", "aria-label": t("control.increase", { what: label }), dataset: { step: "up", prop: p.name } }, "+");
  const render = (d) => {
    const reported = current(app, d, p.name);
    if (target !== null && reported === target) target = null;
    shown.textContent = describe(p, target ?? reported);
    shown.classList.toggle("pending", target !== null);
  };
  const nudge = (direction) => {
    const base = target ?? current(app, device, p.name) ?? p.minimum ?? 0;
    let next = Math.round((base + direction * step) / step) * step;
    if (p.minimum !== undefined) next = Math.max(p.minimum, next);
    if (p.maximum !== undefined) next = Math.min(p.maximum, next);
    target = next;
    render(device);
    send(app, device, { [p.name]: next });
  };
  minus.addEventListener("click", () => nudge(-1));
  plus.addEventListener("click", () => nudge(1));
  render(device);
  return {
    el: row(label, null, h("div", { className: "stepper" }, minus, shown, plus)),
    update: (d) => {
      device = d;
      render(d);
    },
  };
}

function sliderControl(app, device, p) {
  const id = uid("rng");
  const value = current(app, device, p.name);
  const input = h("input", {
    id,
    type: "range",
    min: p.minimum ?? 0,
    max: p.maximum ?? 100,
    step: p.step ?? 1,
    value: value ?? p.minimum ?? 0,
    dataset: { prop: p.name },
  });
  const output = h("output", { htmlFor: id, className: "value", dataset: { value: p.name } }, describe(p, value));
  input.addEventListener("input", () => {
    output.textContent = describe(p, Number(input.value));
  });
  input.addEventListener("change", () => send(app, device, { [p.name]: Number(input.value) }));
  const update = (d) => {
    const next = current(app, d, p.name);
    if (document.activeElement !== input && next !== undefined) input.value = next;
    if (document.activeElement !== input) output.textContent = describe(p, next);
  };
  return { el: row(propertyLabel(p.name), id, input, output), update };
}

function readingControl(app, device, p) {
  const text = h("span", { className: "value", dataset: { value: p.name } });
  const update = (d) => {
    text.textContent = describe(p, current(app, d, p.name));
  };
  update(device);
  return { el: row(propertyLabel(p.name), null, text), update };
}

function irButtons(app, device, p) {
  const box = h("div", { className: "remote", role: "group", "aria-label": t("control.remote") });
  const update = (d) => {
    const commands = current(app, d, p.name) || [];
    if (box.dataset.commands === commands.join("\n")) return;
    box.dataset.commands = commands.join("\n");
    box.replaceChildren(
      ...commands.map((command) => {
        const button = h("button", { type: "button", className: "ir", dataset: { command } }, t(`ir.${command}`) !== `ir.${command}` ? t(`ir.${command}`) : command);
        button.addEventListener("click", async () => {
          try {
            await app.api.runCommand(app.state.hubId, device.id, command);
            app.toast(t("control.sent", { what: button.textContent }));
          } catch (err) {
            app.fail(err);
          }
        });
        return button;
      }),
    );
  };
  update(device);
  return { el: h("div", { className: "control block" }, h("span", { className: "name" }, t("control.remote")), box), update };
}

/** The right control for one property. */
export function propertyControl(app, device, p) {
  if (p.name === "ir_commands" || p.type === "list") return irButtons(app, device, p);
  if (!p.writable) return readingControl(app, device, p);
  if (p.type === "bool") return boolControl(app, device, p);
  if (p.type === "enum") return enumControl(app, device, p);
  if (p.type === "int" || p.type === "float") {
    if (STEPPER_BASES.has(baseName(p.name))) return stepperControl(app, device, p);
    return sliderControl(app, device, p);
  }
  return readingControl(app, device, p);
}

/** One line that says how a device is doing, for its card on the home screen. */
export function summary(app, device) {
  const value = (name) => current(app, device, name);
  if (isAircon(device)) {
    const parts = [];
    const power = value("power");
    parts.push(power ? choiceLabel("mode", value("mode") ?? "") : t("state.off"));
    if (value("target_temperature") !== undefined) {
      parts.push(t("aircon.setTo", { value: formatValue(value("target_temperature"), "°C") }));
    }
    if (value("temperature") !== undefined) {
      parts.push(t("aircon.room", { value: formatValue(value("temperature"), "°C") }));
    }
    return parts.join(" · ");
  }
  const shown = [];
  for (const p of device.properties) {
    if (p.name.startsWith("raw") || p.type === "list" || p.name === "rssi") continue;
    const v = value(p.name);
    if (v === undefined) continue;
    shown.push(p.name === "power" ? describe(p, v) : `${propertyLabel(p.name)} ${describe(p, v)}`);
    if (shown.length === 3) break;
  }
  return shown.join(" · ");
}
