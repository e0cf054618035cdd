// Every string the app shows comes from MESSAGES (English and Japanese). The language follows
// the browser unless the person picked one; only that choice is kept in localStorage.
// Dates, times, numbers and units go through Intl so they read naturally in each language.

import { MESSAGES } from "./messages.js";

const STORE_KEY = "homehub.language";
export const LANGUAGES = Object.keys(MESSAGES);
const listeners = new Set();

function saved() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null;
  }
}

function fromBrowser() {
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

let language = LANGUAGES.includes(saved()) ? saved() : fromBrowser();
document.documentElement.lang = language;

export function currentLanguage() {
  return language;
}

export function setLanguage(next) {
  if (!LANGUAGES.includes(next)) return;
  language = next;
  try {
    localStorage.setItem(STORE_KEY, next);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  document.documentElement.lang = next;
  for (const fn of listeners) fn(next);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
}

export function t(key, vars) {
  const template = MESSAGES[language][key] ?? MESSAGES.en[key] ?? key;
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    name in vars ? String(vars[name]) : whole,
  );
}

/** A label for a property name such as "temperature.outdoor". */
export function propertyLabel(name) {
  const [base, suffix] = name.split(".");
  const label = t(`prop.${base}`);
  if (!suffix) return label;
  const part = MESSAGES[language][`suffix.${suffix}`] ?? MESSAGES.en[`suffix.${suffix}`];
  return `${label} (${part ?? suffix})`;
}

/** A label for an enum choice ("cool" -> "Cool" / "冷房"). */
export function choiceLabel(property, choice) {
  const base = property.split(".")[0];
  const specific = MESSAGES[language][`choice.${base}.${choice}`];
  if (specific) return specific;
  const generic = MESSAGES[language][`choice.${choice}`] ?? MESSAGES.en[`choice.${choice}`];
  return generic ?? choice;
}

const INTL_UNITS = { "°C": "celsius", "%": "percent", L: "liter" };

export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(language, options).format(value);
}

/** A measured or set value with its unit, by locale ("24.5 °C", "1,234 W"). */
export function formatValue(value, unit, digits) {
  if (typeof value !== "number") return String(value);
  const fraction = digits ?? (Number.isInteger(value) ? 0 : 1);
  const opts = { maximumFractionDigits: fraction, minimumFractionDigits: 0 };
  const intl = unit && INTL_UNITS[unit];
  if (intl) return formatNumber(value, { ...opts, style: "unit", unit: intl });
  const number = formatNumber(value, opts);
  return unit ? `${number} ${unit}` : number;
}

export function formatDateTime(tsSeconds) {
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(tsSeconds * 1000),
  );
}

export function formatTime(tsSeconds) {
  return new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit" }).format(
    new Date(tsSeconds * 1000),
  );
}

const STEPS = [
  ["year", 31536000],
  ["month", 2592000],
  ["week", 604800],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** "3 minutes ago" / "3 分前" for a past timestamp (seconds). */
export function formatAgo(tsSeconds, now = Date.now() / 1000) {
  const diff = Math.round(tsSeconds - now);
  const rtf = new Intl.RelativeTimeFormat(language, { numeric: "auto" });
  for (const [unit, size] of STEPS) {
    if (Math.abs(diff) >= size || unit === "second") {
      return rtf.format(Math.trunc(diff / size), unit);
    }
  }
  return rtf.format(0, "second");
}

/** A duration such as "9:41" or "2 h 5 min" for a time-to-live. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return `${m}:${String(s % 60).padStart(2, "0")}`;
  }
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return t("duration.hm", { h: formatNumber(hours), m: formatNumber(minutes) });
}
