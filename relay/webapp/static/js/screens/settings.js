// Settings: language, members of the home (owner invites and removes; members may leave),
// backups (last result, next one, live progress, "back up now"), push notifications on/off,
// presence, sign out.

import { h, clear, field } from "../dom.js";
import { t, formatDateTime, formatNumber } from "../i18n.js";
import { languageSwitch, switchButton, loading, emptyNote } from "./widgets.js";
import { canPush, currentSubscription, enablePush, disablePush } from "../push.js";

function membersSection(app) {
  const api = app.api;
  const state = app.state;
  const owner = state.hub && state.hub.role === "owner";
  const box = h("div", { id: "members" }, loading());
  const error = h("p", { className: "error", role: "alert" });

  async function render() {
    let data;
    try {
      data = await api.members(state.hubId);
    } catch (err) {
      clear(box).append(emptyNote(err.message));
      return;
    }
    const me = api.session && api.session.account_id;
    const list = h("ul", { className: "list members" });
    for (const member of data.members || []) {
      let action = null;
      if (owner && member.account_id !== me) {
        action = h("button", { type: "button", className: "danger", dataset: { remove: member.email } }, t("members.remove"));
        action.addEventListener("click", async () => {
          if (!confirm(t("members.confirmRemove", { email: member.email }))) return;
          try {
            await api.removeMember(state.hubId, member.account_id);
            render();
          } catch (err) {
            app.fail(err);
          }
        });
      }
      list.append(h("li", { className: "row member", dataset: { email: member.email } },
        h("span", { className: "grow" }, member.email, h("br"), h("small", {}, t(`role.${member.role}`))), action));
    }
    for (const invitation of data.invitations || []) {
      let cancel = null;
      if (owner) {
        cancel = h("button", { type: "button" }, t("members.cancelInvite"));
        cancel.addEventListener("click", async () => {
          try {
            await api.cancelInvitation(state.hubId, invitation.id);
            render();
          } catch (err) {
            app.fail(err);
          }
        });
      }
      list.append(h("li", { className: "row invited" }, h("span", { className: "grow" }, invitation.email, h("br"), h("small", {}, t("members.invited"))), cancel));
    }
    clear(box).append(list);
    if (owner) {
      const [emailField, email] = field(t("members.inviteEmail"), { type: "email", name: "invite-email", required: true });
      const form = h("form", { className: "invite" }, emailField, error, h("button", { type: "submit", className: "primary" }, t("members.invite")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        error.textContent = "";
        try {
          await api.invite(state.hubId, email.value.trim());
          email.value = "";
          render();
        } catch (err) {
          error.textContent = err.message;
        }
      });
      box.append(form);
    } else {
      const leave = h("button", { type: "button", className: "danger", id: "leave-home" }, t("members.leave"));
      leave.addEventListener("click", async () => {
        if (!confirm(t("members.confirmLeave"))) return;
        try {
          await api.removeMember(state.hubId, "me");
          app.go("#/hubs");
        } catch (err) {
          app.fail(err);
        }
      });
      box.append(leave);
    }
  }

  render();
  return h("section", { className: "card" }, h("h2", {}, t("members.title")), box);
}

function pushSection(app) {
  const note = h("p", { className: "hint", "aria-live": "polite" });
  if (!app.api.isRelay || !canPush()) {
    note.textContent = t(app.api.isRelay ? "push.unsupported" : "push.relayOnly");
    return h("section", { className: "card" }, h("h2", {}, t("push.title")), note);
  }
  const toggle = switchButton(t("push.title"), false, async (next) => {
    try {
      if (next) await enablePush(app.api);
      else await disablePush(app.api);
      toggle.setChecked(next);
      note.textContent = next ? t("push.on") : t("push.off");
    } catch (err) {
      toggle.setChecked(false);
      note.textContent = t(err.message === "push-denied" ? "push.denied" : "push.failed");
    }
  }, { id: "push-toggle" });
  currentSubscription().then((sub) => toggle.setChecked(Boolean(sub))).catch(() => {});
  return h("section", { className: "card" }, h("div", { className: "row" }, h("h2", { className: "grow" }, t("push.title")), toggle), note);
}

const PHASES = ["snapshot", "files", "archive", "encrypt", "upload", "done"];

/** The hub's backups: what the last one did, when the next is due, and one running now (its
 * progress follows the hub's "backup" events; the status is fetched again when one ends). */
function backupSection(app) {
  const { api, state } = app;
  const last = h("p", { id: "backup-last" }, loading());
  const next = h("p", { id: "backup-next", className: "hint" });
  const bar = h("progress", { id: "backup-progress", max: 1, value: 0 });
  const phase = h("small", { id: "backup-phase", "aria-live": "polite" });
  const running = h("div", { className: "backup-running", hidden: true }, bar, phase);
  const error = h("p", { className: "error", role: "alert" });
  const now = h("button", { type: "button", className: "primary", id: "backup-now" }, t("backup.now"));

  function showRunning(job) {
    running.hidden = !job;
    now.disabled = Boolean(job);
    if (!job) return;
    bar.value = job.progress || 0;
    const name = PHASES.includes(job.phase) ? t(`backup.phase.${job.phase}`) : job.phase || "";
    phase.textContent = t("backup.running", { phase: name, percent: Math.round((job.progress || 0) * 100) });
  }

  function describe(result) {
    if (!result) return [t("backup.never")];
    const when = formatDateTime(result.finished);
    if (result.state !== "succeeded") {
      return [h("strong", { className: "error" }, t("backup.failed", { time: when })), h("br"), result.message || ""];
    }
    const parts = [h("strong", {}, t("backup.succeeded", { time: when }))];
    if (typeof result.size_bytes === "number") {
      const bytes = result.size_bytes;
      const size = bytes >= 1e6
        ? formatNumber(bytes / 1e6, { style: "unit", unit: "megabyte", maximumFractionDigits: 1 })
        : formatNumber(Math.max(1, bytes / 1e3), { style: "unit", unit: "kilobyte", maximumFractionDigits: 0 });
      parts.push(" · ", t("backup.size", { size }));
    }
    const offsite = (result.offsite && result.offsite.state) || "off";
    parts.push(h("br"), h("small", {}, offsite === "uploaded" ? t("backup.offsite") : t("backup.localOnly")));
    if (offsite === "failed" || offsite === "skipped") parts.push(h("small", {}, ` (${result.offsite.message || offsite})`));
    return parts;
  }

  function show(status) {
    clear(last).append(...describe(status.last));
    next.textContent = status.next_due ? t("backup.next", { time: formatDateTime(status.next_due) }) : t("backup.noSchedule");
    showRunning(status.running);
  }

  async function refresh() {
    try {
      show(await api.hubApi(state.hubId, "GET", "backups/status"));
    } catch (err) {
      clear(last).append(emptyNote(err.message));
    }
  }

  now.addEventListener("click", async () => {
    error.textContent = "";
    now.disabled = true;
    try {
      const answer = await api.hubApi(state.hubId, "POST", "backups", {});
      if (answer.status) show(answer.status);
    } catch (err) {
      error.textContent = err.message; // a 409 says what is running
      refresh();
    }
  });

  const unsubscribe = state.subscribe((kind, detail) => {
    if (kind === "backup") {
      if (detail.state === "running") showRunning({ phase: detail.phase, progress: detail.progress });
      else refresh(); // succeeded or failed: the status has the whole result
    } else if (kind === "link" && detail === "open") {
      refresh(); // events may have been missed while the link was down
    }
  });
  refresh();
  const el = h("section", { className: "card backups", id: "backups" }, h("h2", {}, t("backup.title")), last, next, running, error, now);
  return { el, dispose: unsubscribe };
}

export function settingsScreen(app) {
  const api = app.api;
  const signOut = h("button", { type: "button", className: "danger", id: "sign-out" }, t("settings.signOut"));
  signOut.addEventListener("click", async () => {
    await disablePush(api).catch(() => {});
    await api.signOut().catch(() => {});
    app.signedOut();
  });
  const parts = [h("section", { className: "card" }, languageSwitch())];
  if (api.isRelay) {
    parts.push(membersSection(app));
    parts.push(h("p", {}, h("a", { href: "#/hubs" }, t("settings.allHubs"))));
  }
  const backups = backupSection(app);
  parts.push(backups.el);
  parts.push(pushSection(app));
  parts.push(h("p", {}, h("a", { href: app.hubHash("presence") }, t("presence.title"))));
  parts.push(signOut);
  return {
    el: h("section", { className: "screen settings-screen" }, ...parts),
    title: t("settings.title"),
    dispose: backups.dispose,
  };
}
