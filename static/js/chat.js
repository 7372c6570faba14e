// Webchat's browser side: the conversation socket, the composer, and small sidebar helpers.
// The server renders every piece of HTML; this file only places it and keeps the stream in order.
(() => {
  "use strict";

  let chat = null; // the open conversation's state

  function connect(section, auth) {
    const state = {
      section,
      auth, // the widget frame's first message: its visitor token (never in the URL)
      socket: null,
      retries: 0,
      closed: false,
      live: false, // the socket has answered: a refusal now is not one at connect
      seq: new Map(), // reply id -> last applied sequence number
      streaming: null, // id of the reply being written
      pending: null, // { clientId, text }: the composer's send, until its turn or refusal
      queued: [], // what was sent while the socket was still connecting
    };
    chat = state;
    open(state);
    wireComposer(state);
  }

  function open(state) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${state.section.dataset.ws}`);
    state.socket = socket;
    state.live = false;
    setConnection(state, say(state, "Connecting", "Connecting…"));
    socket.onopen = () => {
      state.retries = 0;
      setConnection(state, "");
      if (state.auth) socket.send(JSON.stringify({ type: "auth", ...state.auth }));
      for (const message of state.queued.splice(0)) socket.send(JSON.stringify(message));
    };
    socket.onmessage = (event) => { state.live = true; handle(state, JSON.parse(event.data)); };
    socket.onclose = (event) => {
      if (state.closed) return;
      if (event.code === 4403 && state.live && !state.refusal) {
        // The session this socket opened with ended. If the tab is still signed in under a
        // new session key (a password change here gives one), its cookie opens a new socket;
        // if not, that one is refused at once and says so.
        open(state);
        return;
      }
      if (event.code === 4403 || event.code === 4404 || event.code === 4401) {
        const why = { 4404: section404(state), 4403: "Sign in again.", 4401: say(state, "Unavailable", "This chat is not available here.") };
        setConnection(state, state.refusal || why[event.code]);
        return;
      }
      if (event.code === 1009) {
        // The server closes a message larger than any allowed one could be: say so; the text
        // stays in the box (only its own accepted turn clears it), and we reconnect.
        showError(state, say(state, "Toolarge", "That message was too large to send; it is still in the box. Shorten it and try again."));
        state.pending = null;
      }
      // A dropped socket loses nothing: the reply goes on on the server, and the snapshot
      // after reconnecting has everything so far.
      state.retries += 1;
      const wait = Math.min(10000, 500 * 2 ** Math.min(state.retries, 5));
      setConnection(state, say(state, "Reconnecting", "Reconnecting…"));
      setTimeout(() => { if (!state.closed) open(state); }, wait);
    };
  }

  function section404(state) {
    return state.section.dataset.widget !== undefined ? say(state, "Unavailable", "This chat is not available here.") : "This conversation does not exist.";
  }

  function disconnect() {
    if (!chat) return;
    chat.closed = true;
    clearInterval(chat.watchdog);
    if (chat.socket) chat.socket.close();
    chat = null;
  }

  function send(state, message) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(message));
      return true;
    }
    if (state.socket && state.socket.readyState === WebSocket.CONNECTING) {
      state.queued.push(message); // sent as soon as the socket opens
      return true;
    }
    showError(state, say(state, "Offline", "Not connected right now; your message is still in the box."));
    return false;
  }

  // The widget frame passes its strings in its own language (data-say-*); the app is English.
  function say(state, key, english) { return state.section.dataset["say" + key] || english; }
  function label(key, english) { return document.getElementById("chat")?.dataset["say" + key] || english; }

  function setConnection(state, text) {
    const el = state.section.querySelector("#connection");
    if (el) el.textContent = text;
  }

  function showError(state, text) {
    const el = state.section.querySelector("#composer-error");
    el.textContent = text;
    el.hidden = !text;
  }

  function announce(text) {
    const el = document.getElementById("announcer");
    if (el) { el.textContent = ""; setTimeout(() => { el.textContent = text; }, 50); }
  }

  function replyEl(id) { return document.getElementById(`reply-${id}`); }

  function setStreaming(state, id) {
    state.streaming = id;
    clearInterval(state.watchdog);
    if (id !== null) {
      // The channel layer may drop a frame, even the last one: a silent stream re-syncs.
      state.lastFrame = Date.now();
      state.watchdog = setInterval(() => {
        if (state.streaming !== null && Date.now() - state.lastFrame > 5000) {
          state.lastFrame = Date.now();
          send(state, { type: "snapshot" });
        }
      }, 1000);
    }
    const stop = state.section.querySelector("#stop");
    stop.hidden = id === null;
  }

  function replaceReply(state, id, html) {
    const current = replyEl(id);
    if (current) current.outerHTML = html;
    else {
      const li = document.getElementById(`message-${id}`);
      if (li) li.insertAdjacentHTML("beforeend", html);
    }
    decorate(replyEl(id));
  }

  function handle(state, frame) {
    state.lastFrame = Date.now();
    switch (frame.type) {
      case "snapshot":
        if (frame.id === null) { setStreaming(state, null); return; }
        replaceReply(state, frame.id, frame.html);
        state.seq.set(frame.id, frame.seq);
        setStreaming(state, frame.streaming ? frame.id : null);
        return;
      case "turn": {
        const list = state.section.querySelector("#messages");
        if (frame.replace_from !== null) {
          for (const li of [...list.children]) {
            if (Number(li.dataset.id) >= frame.replace_from) li.remove();
          }
        }
        list.insertAdjacentHTML("beforeend", frame.html);
        list.querySelectorAll(".reply").forEach(decorate);
        const reply = list.lastElementChild.querySelector(".reply");
        if (reply) { state.seq.set(Number(reply.dataset.id), 0); setStreaming(state, Number(reply.dataset.id)); }
        // Another tab's turn (or another's send winning a race with ours) leaves the box alone:
        // only the turn that carries our own send's id clears it.
        if (state.pending && frame.client_id === state.pending.clientId) {
          const box = state.section.querySelector("#composer-text");
          if (box.value === state.pending.text) box.value = "";
          state.pending = null;
        }
        showError(state, "");
        scrollDown(state, true);
        return;
      }
      case "delta": applyDelta(state, frame); return;
      case "restored": restoreTurns(state, frame); return;
      case "done":
        replaceReply(state, frame.id, frame.html);
        state.seq.set(frame.id, frame.seq);
        if (state.streaming === frame.id) setStreaming(state, null);
        announce(replyEl(frame.id)?.querySelector(".reply-body")?.textContent.slice(0, 500) || say(state, "Finished", "Reply finished"));
        return;
      case "title": {
        const row = document.getElementById(`conversation-${frame.id}`);
        if (row) row.outerHTML = frame.html;
        const heading = document.querySelector(`[data-title-for="${frame.id}"]`);
        if (heading) heading.textContent = frame.title;
        if (window.htmx) htmx.process(document.getElementById(`conversation-${frame.id}`));
        syncActive();
        document.title = `${frame.title} · Webchat`;
        return;
      }
      case "error":
        showError(state, frame.message);
        if (state.pending && frame.client_id === state.pending.clientId) state.pending = null;
        if (frame.fatal) state.refusal = frame.message;
        return;
      case "history": { // the widget: a conversation's recent messages, before its snapshot
        const list = state.section.querySelector("#messages");
        list.innerHTML = frame.html;
        list.querySelectorAll(".reply").forEach(decorate);
        state.seq.clear();
        state.section.classList.toggle("empty", !frame.html.trim());
        scrollDown(state, true);
        return;
      }
    }
  }

  // A regenerate or edit that did not complete gives back what it was to replace: each message
  // goes back to its place, by id, before the failed attempt.
  function restoreTurns(state, frame) {
    const list = state.section.querySelector("#messages");
    const incoming = document.createElement("template");
    incoming.innerHTML = frame.html;
    for (const li of [...incoming.content.children]) {
      document.getElementById(li.id)?.remove();
      const next = [...list.children].find((el) => Number(el.dataset.id) > Number(li.dataset.id));
      list.insertBefore(li, next || null);
      li.querySelectorAll(".reply").forEach(decorate);
    }
  }

  function applyDelta(state, frame) {
    const id = frame.id;
    const seen = state.seq.get(id) ?? -1;
    if (frame.seq <= seen) return; // already in the snapshot
    const el = replyEl(id);
    if (!el || frame.from !== seen + 1 || frame.snapshot || frame.tools) {
      // A gap (or a change that is easier to show whole): ask for a fresh snapshot.
      state.seq.set(id, frame.seq);
      send(state, { type: "snapshot" });
      return;
    }
    state.seq.set(id, frame.seq);
    if (frame.reasoning) {
      const box = el.querySelector(".reasoning");
      box.hidden = false;
      box.querySelector(".reasoning-text").textContent += frame.reasoning;
    }
    if (frame.text !== undefined) {
      const body = el.querySelector(".reply-body");
      const tail = body.querySelector(".tail");
      if (frame.reset) tail.textContent = "";
      if (frame.html) { tail.insertAdjacentHTML("beforebegin", frame.html); decorate(el); }
      tail.textContent += frame.text;
    }
    scrollDown(state, false);
  }

  function scrollDown(state, force) {
    const list = state.section.querySelector("#messages");
    const near = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    if (force || near) list.scrollTop = list.scrollHeight;
  }

  // Copy buttons live outside the sanitized HTML: added here, next to each code block.
  function decorate(root) {
    if (!root) return;
    root.querySelectorAll(".code-block:not([data-copy])").forEach((block) => {
      block.dataset.copy = "1";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = label("Copy", "Copy");
      button.setAttribute("aria-label", `Copy ${block.dataset.lang || ""} code`.replace("  ", " "));
      button.addEventListener("click", async () => {
        const code = block.querySelector("code")?.innerText ?? block.innerText;
        try { await navigator.clipboard.writeText(code); button.textContent = label("Copied", "Copied"); }
        catch { button.textContent = label("Selectcopy", "Select and copy"); }
        setTimeout(() => { button.textContent = label("Copy", "Copy"); }, 1500);
      });
      block.prepend(button);
    });
  }

  function wireComposer(state) {
    const form = state.section.querySelector("#composer");
    const box = form.querySelector("#composer-text");
    // The limit is checked here, in words, not by maxlength (which cuts pasted text silently).
    state.maxChars = Number(box.dataset.maxChars || box.getAttribute("maxlength")) || 0;
    box.removeAttribute("maxlength");
    const submit = () => {
      const text = box.value;
      if (!text.trim()) { showError(state, say(state, "Empty", "Write a message first.")); return; }
      if (tooLong(state, text)) return;
      if (state.streaming !== null) { showError(state, "A reply is still being written. Stop it or wait."); return; }
      const clientId = newClientId();
      state.pending = { clientId, text };
      send(state, { type: "send", text, client_id: clientId });
    };
    form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
    });
    form.querySelector("#stop").addEventListener("click", () => send(state, { type: "stop" }));
    state.section.addEventListener("click", (event) => {
      const target = event.target;
      if (target.closest("[data-regenerate]")) send(state, { type: "regenerate", client_id: newClientId() });
      const edit = target.closest("[data-edit]");
      if (edit) startEdit(state, edit.closest(".message"));
    });
    state.section.querySelectorAll(".reply").forEach(decorate);
    scrollDown(state, true);
    box.focus();
  }

  function startEdit(state, li) {
    const bubble = li.querySelector(".user-text");
    if (li.querySelector(".edit-form")) return;
    const form = document.createElement("form");
    form.className = "edit-form";
    const area = document.createElement("textarea");
    area.value = bubble.dataset.text;
    area.setAttribute("aria-label", "Edit message");
    area.rows = 3;
    const save = document.createElement("button");
    save.type = "submit"; save.className = "primary"; save.textContent = "Send edit";
    const cancel = document.createElement("button");
    cancel.type = "button"; cancel.className = "link"; cancel.textContent = "Cancel";
    form.append(area, save, cancel);
    bubble.after(form);
    area.focus();
    const close = () => form.remove();
    cancel.addEventListener("click", close);
    area.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (tooLong(state, area.value)) return;
      // The form stays until the edit is accepted: its turn replaces this message (and the
      // form with it); a refusal leaves the edited text here.
      send(state, { type: "edit", id: Number(li.dataset.id), text: area.value, client_id: newClientId() });
    });
  }

  // Says so (and returns true) when a text is over the length limit the page was given.
  function tooLong(state, text) {
    const count = [...text].length; // characters as the server counts them (code points)
    if (!state.maxChars || count <= state.maxChars) return false;
    const number = (n) => n.toLocaleString(document.documentElement.lang || "en");
    showError(state, say(state, "Toolong", "That message is {count} characters; the limit is {limit}.")
      .replace("{count}", number(count)).replace("{limit}", number(state.maxChars)));
    return true;
  }

  // A send's own id: the server echoes it in the turn it starts or in the refusal.
  function newClientId() {
    return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // A new chat's first message goes with the form that makes the conversation (htmx): Enter
  // sends it, and an empty or too long one is answered here without a round trip.
  document.addEventListener("keydown", (event) => {
    if (event.target.id === "new-text" && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });
  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("[data-new-chat]")) return;
    const box = form.querySelector("#new-text");
    const limit = Number(box.dataset.maxChars);
    const length = [...box.value].length;
    let problem = "";
    if (!box.value.trim()) problem = "Write a message first.";
    else if (limit && length > limit) problem = `That message is ${length.toLocaleString("en")} characters; the limit is ${limit.toLocaleString("en")}.`;
    const error = form.querySelector("#new-chat-error");
    error.textContent = problem;
    error.hidden = !problem;
    if (problem) event.preventDefault();
  });

  // Esc stops a reply, from anywhere on the page.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && chat && chat.streaming !== null && !event.target.closest("[data-rename]")) {
      send(chat, { type: "stop" });
    }
  });

  // Inline rename: Enter saves (the form submits), Escape cancels.
  document.addEventListener("keydown", (event) => {
    const form = event.target.closest && event.target.closest("[data-rename]");
    if (form && event.key === "Escape") {
      event.preventDefault();
      form.querySelector("[data-rename-cancel]").click();
    }
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-toggle-sidebar]")) document.body.classList.toggle("sidebar-shown");
  });

  // No inline handlers (the Content-Security-Policy forbids them): the flash's Dismiss, and the
  // search box, which searches as one types (Enter must not reload the page).
  document.addEventListener("click", (event) => {
    const dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) dismiss.closest(".flash-message")?.remove();
  });
  document.addEventListener("submit", (event) => {
    if (event.target.closest("[data-search]")) event.preventDefault();
  });

  // A rename from the sidebar of the open conversation (the server sends this event then):
  // its heading and the tab's title follow.
  document.addEventListener("conversation-renamed", (event) => {
    const { id, title } = event.detail;
    const heading = document.querySelector(`[data-title-for="${id}"]`);
    if (heading) heading.textContent = title;
    if (Number(document.getElementById("chat")?.dataset.conversation) === id) document.title = `${title} · Webchat`;
  });

  function syncActive() {
    const path = location.pathname;
    document.querySelectorAll(".conversation-row").forEach((row) => {
      const link = row.querySelector("a");
      const active = link && new URL(link.href).pathname === path;
      row.classList.toggle("active", active);
      if (active) link.setAttribute("aria-current", "page"); else link?.removeAttribute("aria-current");
    });
  }

  function boot() {
    const section = document.getElementById("chat");
    if (section && section.dataset.defer !== undefined) return; // the widget frame starts it
    if (chat && chat.section === section) {
      section.querySelectorAll(".reply").forEach(decorate); // earlier messages loaded by htmx
      return;
    }
    disconnect();
    if (section) connect(section);
    syncActive();
    if (section) document.body.classList.remove("sidebar-shown");
  }

  // The widget frame starts the chat once the host page has handed it a visitor token.
  window.webchatChat = {
    start(section, auth) { disconnect(); connect(section, auth); },
    send(message) { if (chat) send(chat, message); },
  };

  document.addEventListener("DOMContentLoaded", boot);
  document.addEventListener("htmx:afterSettle", boot);
  // Whatever opens in the pane (a conversation, a new chat) takes the phone's screen.
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "pane") document.body.classList.remove("sidebar-shown");
  });
  // The URL changes after the swap settles: highlight again once it has.
  document.addEventListener("htmx:pushedIntoHistory", syncActive);
  document.addEventListener("htmx:historyRestore", () => { syncActive(); boot(); });
  window.addEventListener("popstate", () => setTimeout(boot, 0));
  // The back button may restore a stale page from the cache: reconnecting re-syncs it.
  window.addEventListener("pageshow", (event) => { if (event.persisted) { disconnect(); boot(); } });
})();
