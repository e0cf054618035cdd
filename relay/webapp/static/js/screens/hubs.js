// Hubs: the homes this account has (online / last seen), claim one with its code, and
// invitations from other owners.

import { h, clear, field } from "../dom.js";
import { t, formatAgo } from "../i18n.js";
import { emptyNote, loading, languageSwitch } from "./widgets.js";

export function hubsScreen(app) {
  const api = app.api;
  const list = h("ul", { className: "list hubs", id: "hub-list", "aria-label": t("hubs.title") }, loading());
  const invitesBox = h("section", { className: "invitations", id: "invitations" });
  const error = h("p", { className: "error", role: "alert" });

  async function refresh() {
    let hubs;
    let invitations = [];
    try {
      [hubs, invitations] = await Promise.all([api.hubs(), api.invitations().catch(() => [])]);
    } catch (err) {
      clear(list).append(emptyNote(err.message));
      return;
    }
    clear(list);
    if (!hubs.length) list.append(emptyNote(t("hubs.none")));
    for (const hub of hubs) {
      const status = hub.online
        ? t("hubs.online")
        : hub.last_seen
          ? t("hubs.lastSeen", { age: formatAgo(hub.last_seen) })
          : t("hubs.neverSeen");
      list.append(
        h(
          "li",
          {},
          h(
            "a",
            {
              className: "row hub",
              href: `#/h/${encodeURIComponent(hub.hub_id)}/home`,
              dataset: { hubId: hub.hub_id },
            },
            h("span", { className: hub.online ? "dot online" : "dot offline", "aria-hidden": "true" }),
            h("span", { className: "grow" }, h("strong", {}, hub.name || hub.hub_id), h("br"),
              h("small", {}, status)),
            h("small", { className: "role" }, t(`role.${hub.role || "owner"}`)),
          ),
        ),
      );
    }
    clear(invitesBox);
    if (invitations.length) {
      invitesBox.append(h("h2", {}, t("invitations.title")));
      for (const invitation of invitations) {
        const accept = h("button", { type: "button", className: "primary" }, t("invitations.accept"));
        const decline = h("button", { type: "button" }, t("invitations.decline"));
        accept.addEventListener("click", async () => {
          try {
            const hub = await api.acceptInvitation(invitation.id);
            app.go(`#/h/${encodeURIComponent(hub.hub_id)}/home`);
          } catch (err) {
            app.fail(err);
          }
        });
        decline.addEventListener("click", async () => {
          try {
            await api.declineInvitation(invitation.id);
            refresh();
          } catch (err) {
            app.fail(err);
          }
        });
        invitesBox.append(
          h(
            "div",
            { className: "card invitation" },
            h("p", {}, t("invitations.from", {
              hub: invitation.hub_name || invitation.hub_id,
              email: invitation.from_email || "",
            })),
            h("div", { className: "actions" }, accept, decline),
          ),
        );
      }
    }
  }

  const [codeField, code] = field(t("claim.code"), { type: "text", name: "claim-code", required: true });
  const claimForm = h(
    "form",
    { className: "card claim" },
    h("h2", {}, t("claim.title")),
    h("p", { className: "hint" }, t("claim.hint")),
    codeField,
    error,
    h("button", { type: "submit", className: "primary" }, t("claim.submit")),
  );
  claimForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const hub = await api.claim(code.value.trim());
      code.value = "";
      app.go(`#/h/${encodeURIComponent(hub.hub_id)}/home`);
    } catch (err) {
      error.textContent = err.status === 409 ? t("claim.taken") : err.message;
    }
  });
  const signOut = h("button", { type: "button", className: "link", id: "sign-out" }, t("settings.signOut"));
  signOut.addEventListener("click", async () => {
    await api.signOut().catch(() => {});
    app.signedOut();
  });
  refresh();
  const el = h(
    "section",
    { className: "screen hubs-screen" },
    list,
    invitesBox,
    claimForm,
    h("div", { className: "footer-actions" }, languageSwitch(), signOut),
  );
  return { el, title: t("hubs.title") };
}
