// Sign-in: e-mail and password on the relay (with sign-up), a pairing code on the hub's LAN app.

import { h, field } from "../dom.js";
import { t } from "../i18n.js";
import { languageSwitch } from "./widgets.js";

export function signInScreen(app) {
  const api = app.api;
  const error = h("p", { className: "error", role: "alert", id: "signin-error" });
  const busy = (form, on) => {
    for (const el of form.querySelectorAll("button, input")) el.disabled = on;
  };
  const after = () => app.go(api.isRelay ? "#/hubs" : "#/");
  const explain = (err) => {
    if (err.status === 401 || err.status === 403) return t("signin.wrong");
    if (err.status === 429) return t("signin.tooMany");
    if (err.status === 0) return t("error.network");
    return err.message;
  };

  let form;
  if (api.isRelay) {
    const [emailField, email] = field(t("signin.email"), {
      type: "email",
      name: "email",
      autocomplete: "username",
      required: true,
    });
    const [passwordField, password] = field(t("signin.password"), {
      type: "password",
      name: "password",
      autocomplete: "current-password",
      required: true,
      minLength: 8,
    });
    let signingUp = false;
    const submit = h("button", { type: "submit", className: "primary" }, t("signin.submit"));
    const toggle = h("button", { type: "button", className: "link" }, t("signin.toSignUp"));
    const heading = h("h2", {}, t("signin.title"));
    toggle.addEventListener("click", () => {
      signingUp = !signingUp;
      heading.textContent = signingUp ? t("signup.title") : t("signin.title");
      submit.textContent = signingUp ? t("signup.submit") : t("signin.submit");
      toggle.textContent = signingUp ? t("signin.toSignIn") : t("signin.toSignUp");
      password.autocomplete = signingUp ? "new-password" : "current-password";
    });
    form = h("form", { className: "card signin", noValidate: false }, heading, emailField,
      passwordField, error, submit, toggle);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      busy(form, true);
      try {
        if (signingUp) await api.signUp(email.value.trim(), password.value);
        else await api.signIn(email.value.trim(), password.value);
        after();
      } catch (err) {
        error.textContent =
          signingUp && err.status === 404 ? t("signup.disabled") : explain(err);
      } finally {
        busy(form, false);
      }
    });
  } else {
    const [codeField, code] = field(t("pair.code"), {
      type: "text",
      name: "code",
      inputMode: "text",
      autocomplete: "one-time-code",
      required: true,
    });
    form = h(
      "form",
      { className: "card signin" },
      h("h2", {}, t("pair.title")),
      h("p", { className: "hint" }, t("pair.hint")),
      codeField,
      error,
      h("button", { type: "submit", className: "primary" }, t("pair.submit")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      busy(form, true);
      try {
        await api.pair(code.value.trim());
        after();
      } catch (err) {
        error.textContent = explain(err);
      } finally {
        busy(form, false);
      }
    });
  }
  const el = h(
    "section",
    { className: "screen signin-screen" },
    h("p", { className: "welcome" }, api.isRelay ? t("signin.welcome") : t("pair.welcome")),
    form,
    languageSwitch(),
  );
  return { el, title: t("app.name") };
}
