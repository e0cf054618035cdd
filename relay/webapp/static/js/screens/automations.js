// Automations: rules with on/off and when each last ran; scenes to run now.

import { h, clear } from "../dom.js";
import { t, formatAgo } from "../i18n.js";
import { switchButton, emptyNote, loading } from "./widgets.js";

export function automationsScreen(app) {
  const state = app.state;
  const api = app.api;
  const rulesBox = h("ul", { className: "list rules", id: "rules" }, loading());
  const scenesBox = h("ul", { className: "list scenes", id: "scenes" }, loading());

  async function renderRules() {
    let rules;
    try {
      rules = await api.rules(state.hubId);
    } catch (err) {
      clear(rulesBox).append(emptyNote(state.hubOnline ? err.message : t("hub.needsOnline")));
      return;
    }
    clear(rulesBox);
    if (!rules.length) rulesBox.append(emptyNote(t("rules.none")));
    for (const rule of rules) {
      const last = rule.last_run
        ? t(rule.last_run.ok === false ? "rules.lastRunFailed" : "rules.lastRun", { age: formatAgo(rule.last_run.ts) })
        : t("rules.neverRun");
      const name = rule.name || rule.id;
      const toggle = switchButton(t("rules.toggle", { name }), rule.enabled !== false, async (next) => {
        toggle.setChecked(next);
        try {
          await api.setRuleEnabled(state.hubId, rule.id, next);
        } catch (err) {
          toggle.setChecked(!next);
          app.fail(err);
        }
      }, { dataset: { ruleId: rule.id } });
      rulesBox.append(
        h("li", { className: "row rule", dataset: { ruleId: rule.id } },
          h("span", { className: "grow" }, h("strong", {}, name), h("br"), h("small", {}, last)),
          toggle),
      );
    }
  }

  async function renderScenes() {
    let scenes;
    try {
      scenes = await api.scenes(state.hubId);
    } catch (err) {
      clear(scenesBox).append(emptyNote(state.hubOnline ? err.message : t("hub.needsOnline")));
      return;
    }
    clear(scenesBox);
    if (!scenes.length) scenesBox.append(emptyNote(t("scenes.none")));
    for (const scene of scenes) {
      const run = h("button", { type: "button", className: "primary", dataset: { scene: scene.name } }, t("scenes.run"));
      run.addEventListener("click", async () => {
        run.disabled = true;
        try {
          await api.runScene(state.hubId, scene.name);
          app.toast(t("scenes.ran", { name: scene.name }));
        } catch (err) {
          app.fail(err);
        } finally {
          run.disabled = false;
        }
      });
      scenesBox.append(h("li", { className: "row scene" }, h("strong", { className: "grow" }, scene.name), run));
    }
  }

  renderRules();
  renderScenes();
  const unsubscribe = state.subscribe((kind) => {
    if (kind === "rules") renderRules();
  });
  const el = h("section", { className: "screen automations-screen" },
    h("h2", {}, t("scenes.title")), scenesBox,
    h("h2", {}, t("rules.title")), rulesBox);
  return { el, title: t("automations.title"), dispose: unsubscribe };
}
