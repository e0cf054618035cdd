// Small pieces several screens share.

import { h, uid } from "../dom.js";
import { t, LANGUAGES, currentLanguage, setLanguage } from "../i18n.js";

export function languageSwitch() {
  const id = uid("lang");
  const select = h(
    "select",
    { id, name: "language" },
    LANGUAGES.map((code) =>
      h("option", { value: code, selected: code === currentLanguage() }, t(`language.${code}`)),
    ),
  );
  select.addEventListener("change", () => setLanguage(select.value));
  return h("div", { className: "field language" }, h("label", { htmlFor: id }, t("settings.language")), select);
}

/** A switch button (role=switch) that calls onToggle(nextValue). */
export function switchButton(label, checked, onToggle, props = {}) {
  const button = h(
    "button",
    {
      type: "button",
      role: "switch",
      className: "switch",
      "aria-checked": checked ? "true" : "false",
      "aria-label": label,
      ...props,
    },
    h("span", { className: "knob", "aria-hidden": "true" }),
  );
  button.addEventListener("click", () => {
    onToggle(button.getAttribute("aria-checked") !== "true");
  });
  button.setChecked = (value) => button.setAttribute("aria-checked", value ? "true" : "false");
  return button;
}

export function emptyNote(text) {
  return h("p", { className: "empty" }, text);
}

export function loading() {
  return h("p", { className: "loading" }, t("common.loading"));
}
