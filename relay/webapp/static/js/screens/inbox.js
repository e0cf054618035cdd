// Inbox: what the hub's rules sent (alerts, reminders that repeat until resolved).

import { h, clear } from "../dom.js";
import { t, formatAgo, formatNumber } from "../i18n.js";
import { emptyNote, loading } from "./widgets.js";

export function inboxScreen(app) {
  const state = app.state;
  const api = app.api;
  const listBox = h("ul", { className: "list inbox", id: "inbox" }, loading());

  async function render() {
    let items;
    try {
      items = await api.notifications(state.hubId, "all");
    } catch (err) {
      clear(listBox).append(emptyNote(state.hubOnline ? err.message : t("hub.needsOnline")));
      return;
    }
    clear(listBox);
    if (!items.length) listBox.append(emptyNote(t("inbox.none")));
    for (const item of items) {
      const resolved = Boolean(item.resolved_at);
      const meta = [t(`inbox.kind.${item.kind}`) , formatAgo(item.updated || item.created)];
      if (item.count > 1) meta.push(t("inbox.repeated", { count: formatNumber(item.count) }));
      if (resolved) meta.push(t("inbox.resolvedAgo", { age: formatAgo(item.resolved_at) }));
      let action = null;
      if (!resolved) {
        action = h("button", { type: "button", className: "primary", dataset: { resolve: item.id } }, t("inbox.resolve"));
        action.addEventListener("click", async () => {
          action.disabled = true;
          try {
            await api.resolveNotification(state.hubId, item.id);
            await render();
            app.refreshInboxBadge();
          } catch (err) {
            action.disabled = false;
            app.fail(err);
          }
        });
      }
      listBox.append(
        h("li", { className: resolved ? "row note resolved" : `row note ${item.kind}`, dataset: { notificationId: item.id } },
          h("span", { className: "grow" },
            h("strong", {}, item.title || t("inbox.untitled")),
            item.message ? h("span", { className: "message" }, item.message) : null,
            h("small", {}, meta.join(" · "))),
          action),
      );
    }
  }

  render();
  const unsubscribe = state.subscribe((kind) => {
    if (kind === "inbox") render();
  });
  return { el: h("section", { className: "screen inbox-screen" }, listBox), title: t("inbox.title"), dispose: unsubscribe };
}
