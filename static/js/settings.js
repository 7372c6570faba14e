// The Settings page (templates/conversations/settings.html): once htmx has saved them, the page
// follows the new settings at once, as every later page will from the server: the theme
// (<html data-theme>, none for the system's), the language (<html lang>, the tab's title; the
// form came back in it) and the send key (<body data-send-key>, read by static/js/chat.js).
(() => {
  "use strict";
  document.addEventListener("settings-saved", (event) => {
    const { theme, language, sendKey, title } = event.detail;
    const root = document.documentElement;
    const forced = theme === "light" || theme === "dark";
    if (forced) root.dataset.theme = theme; else delete root.dataset.theme;
    document.querySelector('meta[name="color-scheme"]')?.setAttribute("content", forced ? theme : "light dark");
    if (language) root.lang = language;
    if (sendKey) document.body.dataset.sendKey = sendKey;
    if (title) document.title = title;
  });

  // The form came back: the focus goes to the first field that is wrong, else stays on Save
  // (htmx keeps it by its id; this catches a click that left it nowhere).
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target?.id !== "settings") return;
    const invalid = document.querySelector('#settings [aria-invalid="true"]');
    const field = invalid?.matches("select") ? invalid : invalid?.querySelector("input:checked, input");
    const active = document.activeElement;
    if (field) field.focus();
    else if (!active || active === document.body || !active.isConnected) document.getElementById("settings-save")?.focus();
  });
})();
