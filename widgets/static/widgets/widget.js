/* Webchat widget loader: <script src="https://WEBCHAT/widget.js" data-widget="KEY" async></script>
   Adds a launcher and, when opened, an iframe served by Webchat. The visitor token lives in this
   site's own storage and reaches the frame only by postMessage to Webchat's exact origin.
   API: Webchat.open(), Webchat.close(), Webchat.identify(signedIdentity), Webchat.newConversation() */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.Webchat) return;
  var key = script.getAttribute("data-widget");
  var base = new URL(script.src).origin;
  var storeKey = "webchat:" + key;
  var host, frame, launcher, token = null, identity = null, isOpen = false, lastFocus = null;

  function warn(why) { if (window.console) console.warn("Webchat widget: " + why); }
  function stored() { try { return localStorage.getItem(storeKey); } catch (e) { return null; } }
  function store(value) { try { localStorage.setItem(storeKey, value); } catch (e) { /* private mode */ } }

  function fetchToken() {
    var body = JSON.stringify({ token: stored(), identity: identity });
    return fetch(base + "/widget/" + encodeURIComponent(key) + "/visitor", {
      method: "POST", mode: "cors", credentials: "omit", body: body,
      headers: { "Content-Type": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok || !data.token) throw new Error(data.error || ("refused (" + response.status + ")"));
        store(data.token);
        token = data.token;
        return data;
      });
    });
  }

  function build(settings) {
    host = document.createElement("div");
    host.setAttribute("data-webchat", key);
    // A shadow root keeps this page's styles and the launcher's apart.
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var side = settings.position === "left" ? "left" : "right";
    var style = document.createElement("style");
    style.textContent =
      ":host{all:initial}" +
      ".launcher{position:fixed;bottom:20px;" + side + ":20px;width:56px;height:56px;border-radius:50%;border:0;" +
      "background:" + (/^#[0-9a-f]{6}$/i.test(settings.accent) ? settings.accent : "#2563eb") + ";color:#fff;cursor:pointer;" +
      "display:flex;align-items:center;justify-content:center;padding:0;" +
      "box-shadow:0 4px 16px rgba(0,0,0,.25);z-index:2147483646}" +
      ".launcher:focus-visible{outline:3px solid #000;outline-offset:3px}" +
      ".panel{position:fixed;bottom:88px;" + side + ":20px;width:380px;height:600px;max-height:calc(100vh - 108px);" +
      "border:0;border-radius:12px;box-shadow:0 8px 32px rgba(0,0,0,.3);z-index:2147483647;background:#fff;display:none}" +
      ".panel.open{display:block}" +
      "@media (max-width:640px){.panel{inset:0;width:100%;height:100%;max-height:none;border-radius:0}}" +
      "@media (prefers-reduced-motion:no-preference){.launcher{transition:transform .15s}.launcher:hover{transform:scale(1.05)}}";
    launcher = document.createElement("button");
    launcher.className = "launcher";
    launcher.type = "button";
    launcher.setAttribute("aria-label", settings.label || "Open the chat");
    launcher.setAttribute("aria-expanded", "false");
    launcher.innerHTML = '<svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true" fill="currentColor">' +
      '<path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
    launcher.addEventListener("click", function () { isOpen ? close() : open(); });
    frame = document.createElement("iframe");
    frame.className = "panel";
    frame.title = settings.label || "Chat";
    frame.setAttribute("allow", "clipboard-write");
    root.appendChild(style);
    root.appendChild(launcher);
    root.appendChild(frame);
    document.body.appendChild(host);
  }

  function handToFrame() {
    frame.contentWindow.postMessage(
      { type: "webchat:token", token: token, page: location.origin + location.pathname }, base);
  }

  function open() {
    if (!frame) return;
    lastFocus = document.activeElement;
    if (!frame.src) {
      frame.addEventListener("load", handToFrame);
      frame.src = base + "/widget/" + encodeURIComponent(key) + "/frame";
    }
    frame.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    isOpen = true;
    store(token);
    try { sessionStorage.setItem(storeKey + ":open", "1"); } catch (e) { /* private mode */ }
    frame.focus();
    if (frame.contentWindow) frame.contentWindow.postMessage({ type: "webchat:focus" }, base);
  }

  function close() {
    if (!frame) return;
    frame.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    isOpen = false;
    try { sessionStorage.removeItem(storeKey + ":open"); } catch (e) { /* private mode */ }
    if (lastFocus && lastFocus.focus) lastFocus.focus(); else launcher.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen) close();
  });

  window.addEventListener("message", function (event) {
    if (event.origin !== base || !frame || event.source !== frame.contentWindow) return;
    if (event.data && event.data.type === "webchat:close") close();
  });

  window.Webchat = {
    open: open,
    close: close,
    newConversation: function () { if (frame && frame.contentWindow) frame.contentWindow.postMessage({ type: "webchat:new" }, base); },
    identify: function (signed) {
      identity = signed;
      return fetchToken().then(function () { if (frame && frame.src) handToFrame(); });
    }
  };

  function start() {
    identity = script.getAttribute("data-identity");
    fetchToken().then(function (settings) {
      build(settings);
      // A visitor who had it open on the previous page finds it open, the reply going on.
      var wasOpen = false;
      try { wasOpen = sessionStorage.getItem(storeKey + ":open") === "1"; } catch (e) { /* private mode */ }
      if (wasOpen) open();
    }, function (error) { warn(error.message); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
