// The widget frame: waits for the host page to hand it a visitor token, then runs the chat.
// Messages are accepted only from the parent window and only from an origin the widget allows.
(() => {
  "use strict";
  const section = document.getElementById("chat");
  const patterns = JSON.parse(section.dataset.origins || "[]");

  function allowed(origin) {
    return patterns.some((pattern) => {
      if (pattern === origin) return true;
      const wild = pattern.indexOf("://*.");
      if (wild < 0) return false;
      const scheme = pattern.slice(0, wild), rest = pattern.slice(wild + 5);
      const url = new URL(origin);
      return url.protocol === scheme + ":" && (url.host.endsWith("." + rest));
    });
  }

  let parentOrigin = null;
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !allowed(event.origin)) return;
    const data = event.data || {};
    if (data.type === "webchat:token" && typeof data.token === "string") {
      parentOrigin = event.origin;
      window.webchatChat.start(section, { token: data.token, origin: event.origin, page: data.page || "" });
      document.getElementById("composer-text").focus();
    } else if (data.type === "webchat:new") {
      window.webchatChat.send({ type: "new" });
    } else if (data.type === "webchat:focus") {
      document.getElementById("composer-text").focus();
    }
  });

  function tellParent(message) {
    if (parentOrigin) window.parent.postMessage(message, parentOrigin); // never "*"
  }

  document.getElementById("new-conversation").addEventListener("click", () => window.webchatChat.send({ type: "new" }));
  document.getElementById("close-widget").addEventListener("click", () => tellParent({ type: "webchat:close" }));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !document.querySelector("#stop:not([hidden])")) tellParent({ type: "webchat:close" });
    if (event.key === "Tab") keepFocusInside(event);
  });

  // While open, Tab cycles inside the chat instead of wandering off into the host page.
  function keepFocusInside(event) {
    const focusable = [...document.querySelectorAll("button:not([hidden]), textarea, a[href], summary")]
      .filter((el) => el.offsetParent !== null && !el.disabled);
    if (!focusable.length) return;
    const first = focusable[0], last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) { last.focus(); event.preventDefault(); }
    else if (!event.shiftKey && document.activeElement === last) { first.focus(); event.preventDefault(); }
  }
  section.addEventListener("click", (event) => {
    const starter = event.target.closest("[data-starter]");
    if (!starter) return;
    const box = document.getElementById("composer-text");
    box.value = starter.dataset.starter;
    document.getElementById("composer").requestSubmit();
  });
})();
