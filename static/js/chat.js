// Webchat's browser side: the conversation socket, the composer, and small sidebar helpers.
// The server renders every piece of HTML and every word (the edit form and the copy button come
// in <template>s, messages in data-say-*); this file only places them and keeps the stream in order.
(() => {
  "use strict";

  // <webchat-chat> wraps the chat section and owns its socket: it opens when the chat comes into
  // the page (a page load, an htmx swap of the pane, a history restore) and closes when it leaves.
  // The widget frame's chat (data-defer) waits for start(auth) with the visitor's token instead.
  class WebchatChat extends HTMLElement {
    connectedCallback() {
      this.section = this.querySelector(".chat");
      if (!this.section || this.section.dataset.defer !== undefined) return;
      this.start();
      document.body.classList.remove("sidebar-shown"); // the chat takes the phone's screen
    }

    disconnectedCallback() { this.stop(); }

    start(auth) {
      this.stop();
      this.auth = auth; // the widget frame's first message: its visitor token (never in the URL)
      this.closed = false;
      this.retries = 0;
      this.seq = new Map(); // reply id -> last applied sequence number
      this.streaming = null; // id of the reply being written
      this.pending = null; // { clientId, text }: the composer's send, until its turn or refusal
      this.queued = []; // what was sent while the socket was still connecting
      this.refusal = null;
      this.open();
      if (!this.wired) this.wire();
    }

    stop() {
      this.closed = true;
      clearInterval(this.watchdog);
      clearTimeout(this.retry);
      if (this.socket) this.socket.close();
      this.socket = null;
    }

    open() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const socket = new WebSocket(`${scheme}//${location.host}${this.section.dataset.ws}`);
      this.socket = socket;
      this.live = false; // the socket has answered: a refusal now is not one at connect
      this.setConnection(this.say("Connecting"));
      const current = () => !this.closed && socket === this.socket;
      socket.onopen = () => {
        if (!current()) return;
        this.retries = 0;
        this.setConnection("");
        if (this.auth) socket.send(JSON.stringify({ type: "auth", ...this.auth }));
        for (const message of this.queued.splice(0)) socket.send(JSON.stringify(message));
      };
      socket.onmessage = (event) => {
        if (!current()) return;
        this.live = true;
        this.handle(JSON.parse(event.data));
      };
      socket.onclose = (event) => { if (current()) this.closedByServer(event.code); };
    }

    closedByServer(code) {
      if (code === 4403 && this.live && !this.refusal) {
        // The session this socket opened with ended. If the tab is still signed in under a new
        // session key (a password change here gives one), its cookie opens a new socket; if
        // not, that one is refused at once and says so.
        this.open();
        return;
      }
      const refused = { 4401: "Unavailable", 4403: "Signin", 4404: "Gone" }[code];
      if (refused) {
        this.setConnection(this.refusal || this.say(refused));
        return;
      }
      if (code === 1009) {
        // The server closes a message larger than any allowed one could be: say so; the text
        // stays in the box (only its own accepted turn clears it), and we reconnect.
        this.showError(this.say("Toolarge"));
        this.pending = null;
      }
      // A dropped socket loses nothing: the reply goes on on the server, and the snapshot
      // after reconnecting has everything so far.
      this.retries += 1;
      const wait = Math.min(10000, 500 * 2 ** Math.min(this.retries, 5));
      this.setConnection(this.say("Reconnecting"));
      this.retry = setTimeout(() => { if (!this.closed) this.open(); }, wait);
    }

    send(message) {
      const socket = this.socket;
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify(message));
        return true;
      }
      if (socket && socket.readyState === WebSocket.CONNECTING) {
        this.queued.push(message); // sent as soon as the socket opens
        return true;
      }
      this.showError(this.say("Offline"));
      return false;
    }

    // Every word this file shows comes from the page: data-say-* on the chat section.
    say(key) { return this.section.dataset["say" + key] || ""; }

    setConnection(text) {
      const el = this.section.querySelector("#connection");
      if (el) el.textContent = text;
    }

    showError(text) {
      const el = this.section.querySelector("#composer-error");
      el.textContent = text;
      el.hidden = !text;
    }

    list() { return this.section.querySelector("#messages"); }

    setStreaming(id) {
      this.streaming = id;
      clearInterval(this.watchdog);
      if (id !== null) {
        // The channel layer may drop a frame, even the last one: a silent stream re-syncs.
        this.lastFrame = Date.now();
        this.watchdog = setInterval(() => {
          if (this.streaming !== null && Date.now() - this.lastFrame > 5000) {
            this.lastFrame = Date.now();
            this.send({ type: "snapshot" });
          }
        }, 1000);
      }
      this.section.querySelector("#stop").hidden = id === null;
    }

    replaceReply(id, html) {
      const current = replyEl(id);
      const feedback = current?.querySelector(".feedback");
      const pager = current?.querySelector(".versions-slot .versions");
      if (current) current.outerHTML = html;
      else document.getElementById(`message-${id}`)?.insertAdjacentHTML("beforeend", html);
      keepFeedback(replyEl(id), feedback);
      keepPager(replyEl(id), pager);
      this.decorate(replyEl(id));
    }

    // The feedback of turns a regenerate or edit hides, for when they come back (it failed).
    setAside(li) {
      const feedback = li.querySelector(".feedback");
      if (feedback) (this.feedbackAside ||= new Map()).set(li.id, feedback);
    }

    handle(frame) {
      this.lastFrame = Date.now();
      switch (frame.type) {
        case "snapshot":
          if (frame.id === null) { this.setStreaming(null); return; }
          this.replaceReply(frame.id, frame.html);
          this.seq.set(frame.id, frame.seq);
          this.setStreaming(frame.streaming ? frame.id : null);
          return;
        case "turn": {
          const list = this.list();
          if (frame.replace_from !== null) {
            for (const li of [...list.children]) {
              if (Number(li.dataset.id) >= frame.replace_from) { this.setAside(li); li.remove(); }
            }
          }
          list.insertAdjacentHTML("beforeend", frame.html);
          this.decorate(list);
          const reply = list.lastElementChild.querySelector(".reply");
          // A continued reply goes on from its sequence number; a new one starts at 0.
          if (reply) { this.seq.set(Number(reply.dataset.id), Number(reply.dataset.seq) || 0); this.setStreaming(Number(reply.dataset.id)); }
          // Another tab's turn (or another's send winning a race with ours) leaves the box
          // alone: only the turn that carries our own send's id clears it.
          if (this.pending && frame.client_id === this.pending.clientId) {
            const box = this.section.querySelector("#composer-text");
            if (box.value === this.pending.text) box.value = "";
            this.section.querySelector("#composer [data-attachments]")?.replaceChildren();
            this.pending = null;
          }
          this.showError("");
          this.scrollDown(true);
          return;
        }
        case "delta": this.applyDelta(frame); return;
        case "restored": this.restoreTurns(frame); return;
        case "versions": // a regenerate or edit completed: the pager where it changed
          for (const [id, html] of Object.entries(frame.html)) {
            const slot = document.getElementById(`versions-${id}`);
            if (slot) { slot.outerHTML = html; this.decorate(document.getElementById(`message-${id}`)); }
          }
          return;
        case "done":
          this.replaceReply(frame.id, frame.html);
          this.seq.set(frame.id, frame.seq);
          if (this.streaming === frame.id) this.setStreaming(null);
          announce(replyEl(frame.id)?.querySelector(".reply-body")?.textContent.slice(0, 500) || this.say("Finished"));
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
          this.showError(frame.message);
          if (this.pending && frame.client_id === this.pending.clientId) this.pending = null;
          if (frame.fatal) this.refusal = frame.message;
          return;
        case "history": { // the widget: a conversation's recent messages, before its snapshot
          const list = this.list();
          list.innerHTML = frame.html;
          this.decorate(list);
          this.seq.clear();
          this.section.classList.toggle("empty", !frame.html.trim());
          this.scrollDown(true);
          return;
        }
      }
    }

    // A regenerate or edit that did not complete gives back what it was to replace: each
    // message goes back to its place, by id, before the failed attempt.
    restoreTurns(frame) {
      const list = this.list();
      const incoming = document.createElement("template");
      incoming.innerHTML = frame.html;
      for (const li of [...incoming.content.children]) {
        document.getElementById(li.id)?.remove();
        const next = [...list.children].find((el) => Number(el.dataset.id) > Number(li.dataset.id));
        list.insertBefore(li, next || null);
        keepFeedback(li.querySelector(".reply"), this.feedbackAside?.get(li.id));
        this.decorate(li);
      }
    }

    applyDelta(frame) {
      const id = frame.id;
      const seen = this.seq.get(id) ?? -1;
      if (frame.seq <= seen) return; // already in the snapshot
      const el = replyEl(id);
      if (!el || frame.from !== seen + 1 || frame.snapshot || frame.tools) {
        // A gap (or a change that is easier to show whole): ask for a fresh snapshot.
        this.seq.set(id, frame.seq);
        this.send({ type: "snapshot" });
        return;
      }
      this.seq.set(id, frame.seq);
      if (frame.reasoning) {
        const box = el.querySelector(".reasoning");
        box.hidden = false;
        box.querySelector(".reasoning-text").textContent += frame.reasoning;
      }
      // The raw text is not shown: closed blocks come as HTML, the open one as provisional
      // HTML (at most ten times a second), never as Markdown syntax.
      const tail = el.querySelector(".reply-body .tail");
      if (!tail) return;
      if (frame.reset) tail.replaceChildren();
      if (frame.html) { tail.insertAdjacentHTML("beforebegin", frame.html); this.decorate(el); }
      if (frame.open) this.showOpen(tail, frame.open);
      this.scrollDown(false);
    }

    // The open block: a new container (`reset`), settled parts added before its fresh part,
    // and the fresh part replaced. All of it is the server's sanitized HTML.
    showOpen(tail, open) {
      if (open.reset) tail.innerHTML = open.html;
      const fresh = tail.querySelector("[data-fresh]");
      if (!fresh) return;
      if (open.add) fresh.insertAdjacentHTML("beforebegin", open.add);
      if (open.fresh !== undefined) fresh.innerHTML = open.fresh;
    }

    scrollDown(force) {
      const list = this.list();
      const near = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
      if (force || near) list.scrollTop = list.scrollHeight;
    }

    // A copy of one of the server's <template data-template="…"> in this chat.
    fromTemplate(name) {
      const template = this.section.querySelector(`template[data-template="${name}"]`);
      return template ? template.content.firstElementChild.cloneNode(true) : null;
    }

    // Copy buttons live outside the sanitized HTML: the server's button, next to each code block.
    decorate(root) {
      if (!root) return;
      root.querySelectorAll(".code-block:not([data-copy])").forEach((block) => {
        const button = this.fromTemplate("copy-button");
        if (!button) return;
        block.dataset.copy = "1";
        const idle = button.textContent;
        button.setAttribute("aria-label", button.dataset.label.replace("{lang}", block.dataset.lang || "").replace("  ", " "));
        button.addEventListener("click", async () => {
          const code = block.querySelector("code")?.innerText ?? block.innerText;
          try { await navigator.clipboard.writeText(code); button.textContent = button.dataset.copied; }
          catch { button.textContent = button.dataset.failed; }
          setTimeout(() => { button.textContent = idle; }, 1500);
        });
        block.prepend(button);
      });
      // A finished reply's Copy: its Markdown, fetched when asked for (the page holds HTML).
      root.querySelectorAll(".reply:not([data-status=streaming]) .reply-foot:not(:has([data-copy-reply]))").forEach((foot) => {
        const button = this.fromTemplate("copy-reply");
        if (!button) return;
        button.dataset.url = button.dataset.url.replace(/\/0\.md$/, `/${foot.closest(".reply").dataset.id}.md`);
        const regenerate = foot.querySelector("[data-regenerate]");
        if (regenerate) regenerate.before(button); else foot.append(button);
      });
      showTimes(root);
      if (window.htmx) htmx.process(root); // the pager's arrows, in HTML that came on the socket
    }

    // Copies a reply's Markdown. The clipboard takes a promise, so the fetch does not use up
    // the click's permission to write.
    async copyReply(button) {
      const idle = button.textContent;
      const text = fetch(button.dataset.url, { credentials: "same-origin" }).then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      });
      try {
        if (window.ClipboardItem && ClipboardItem.supports?.("text/plain") !== false) {
          const blob = text.then((t) => new Blob([t], { type: "text/plain" }));
          await navigator.clipboard.write([new ClipboardItem({ "text/plain": blob })]);
        } else {
          await navigator.clipboard.writeText(await text);
        }
        button.textContent = button.dataset.copied;
      } catch {
        button.textContent = button.dataset.failed;
      }
      setTimeout(() => { button.textContent = idle; }, 1500);
    }

    wire() {
      this.wired = true;
      const form = this.section.querySelector("#composer");
      const box = form.querySelector("#composer-text");
      // The limit is checked here, in words, not by maxlength (which cuts pasted text silently).
      this.maxChars = Number(box.dataset.maxChars || box.getAttribute("maxlength")) || 0;
      box.removeAttribute("maxlength");
      const submit = () => {
        const text = box.value;
        if (!text.trim()) { this.showError(this.say("Empty")); return; }
        if (this.tooLong(text)) return;
        if (this.streaming !== null) { this.showError(this.say("Busy")); return; }
        const clientId = newClientId();
        this.pending = { clientId, text };
        // The files attached for it (static/js/attachments.js): their chips carry their ids.
        const attachments = [...form.querySelectorAll("[data-attachments] [data-attachment]")].map((chip) => Number(chip.dataset.attachment));
        const frame = { type: "send", text, client_id: clientId };
        if (attachments.length) frame.attachments = attachments;
        this.send(frame);
      };
      form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
      box.addEventListener("keydown", (event) => {
        if (sends(event)) { event.preventDefault(); submit(); }
      });
      form.querySelector("#stop").addEventListener("click", () => this.send({ type: "stop" }));
      this.section.addEventListener("click", (event) => {
        const target = event.target;
        if (target.closest("[data-regenerate]")) this.send({ type: "regenerate", client_id: newClientId() });
        if (target.closest("[data-continue]")) this.send({ type: "continue", client_id: newClientId() });
        const copy = target.closest("[data-copy-reply]");
        if (copy) this.copyReply(copy);
        const edit = target.closest("[data-edit]");
        if (edit) this.startEdit(edit.closest(".message"));
      });
      // Earlier messages loaded by htmx get their copy buttons too.
      this.section.addEventListener("htmx:afterSettle", () => this.decorate(this.section));
      this.decorate(this.section);
      // A version just shown: stay at the message that changed, on the arrow used.
      const focus = this.section.dataset.focus && document.getElementById(`message-${this.section.dataset.focus}`);
      if (focus) {
        focus.scrollIntoView({ block: "center" });
        focus.querySelector(".versions button:not([disabled])")?.focus();
      } else {
        this.scrollDown(true);
        if (!box.disabled) box.focus();
      }
    }

    // The server's edit form, under the message it edits.
    startEdit(li) {
      const bubble = li.querySelector(".user-text");
      if (li.querySelector(".edit-form")) return;
      const form = this.fromTemplate("edit-form");
      if (!form) return;
      const area = form.querySelector("textarea");
      area.value = bubble.dataset.text;
      bubble.after(form);
      area.focus();
      const close = () => form.remove();
      form.querySelector("[data-edit-cancel]").addEventListener("click", close);
      area.addEventListener("keydown", (e) => {
        if (e.key === "Escape") { e.stopPropagation(); close(); }
        if (sends(e)) { e.preventDefault(); form.requestSubmit(); }
      });
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (this.tooLong(area.value)) return;
        // The form stays until the edit is accepted: its turn replaces this message (and the
        // form with it); a refusal leaves the edited text here.
        this.send({ type: "edit", id: Number(li.dataset.id), text: area.value, client_id: newClientId() });
      });
    }

    // Says so (and returns true) when a text is over the length limit the page was given.
    tooLong(text) {
      const problem = lengthProblem(this.section, text, this.maxChars);
      if (problem) this.showError(problem);
      return Boolean(problem);
    }
  }

  customElements.define("webchat-chat", WebchatChat);

  function replyEl(id) { return document.getElementById(`reply-${id}`); }

  // Whether this key sends what is being written (the composer, an edit, a new chat's first
  // message), by the person's setting on <body data-send-key>: "enter" (Enter sends, Shift+Enter
  // adds a line) or "ctrl-enter" (Ctrl+Enter, ⌘+Enter on a Mac, sends; Enter adds a line).
  function sends(event) {
    if (event.key !== "Enter" || event.isComposing) return false;
    if (document.body.dataset.sendKey === "ctrl-enter") return event.ctrlKey || event.metaKey;
    return !event.shiftKey;
  }

  // A reply's thumbs and comment are the page's: HTML from the socket cannot know them (it
  // shows none given), so a reply the socket shows again keeps the feedback it had here.
  function keepFeedback(reply, feedback) {
    if (!reply || !feedback) return;
    const incoming = reply.querySelector(".feedback");
    if (incoming) incoming.replaceWith(feedback);
    else reply.querySelector(".reply-foot")?.append(feedback);
  }

  // Socket-rendered HTML cannot read the versions; the page's pager stays (a version shown
  // elsewhere renders the whole pane again).
  function keepPager(reply, pager) {
    const slot = reply?.querySelector(".versions-slot");
    if (slot && pager && !slot.firstElementChild) slot.append(pager);
  }

  // Each message's time: relative ("5 minutes ago"), exact on hover, in the reader's own
  // language and time zone; the server's words stand until this runs.
  function showTimes(root) {
    const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
    const lang = document.documentElement.lang || undefined;
    const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
    const exact = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "short" });
    (root || document).querySelectorAll("time.when[datetime]").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(when.getTime())) return;
      const seconds = Math.round((when.getTime() - Date.now()) / 1000);
      const unit = UNITS.find(([, size]) => Math.abs(seconds) >= size);
      el.textContent = unit ? relative.format(Math.round(seconds / unit[1]), unit[0]) : relative.format(0, "second");
      el.title = exact.format(when);
    });
  }
  setInterval(() => showTimes(document), 30000);
  function openChat() { return document.querySelector("webchat-chat"); }

  function announce(text) {
    const el = document.getElementById("announcer");
    if (el) { el.textContent = ""; setTimeout(() => { el.textContent = text; }, 50); }
  }

  // The words for a text over the limit (the element's data-say-toolong), or "" when it is not.
  function lengthProblem(el, text, limit) {
    const count = [...text].length; // characters as the server counts them (code points)
    if (!limit || count <= limit) return "";
    const number = (n) => n.toLocaleString(document.documentElement.lang || "en");
    return el.dataset.sayToolong.replace("{count}", number(count)).replace("{limit}", number(limit));
  }

  // A send's own id: the server echoes it in the turn it starts or in the refusal.
  function newClientId() {
    return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The widget frame starts the chat once the host page has handed it a visitor token.
  window.webchatChat = {
    start(section, auth) { section.closest("webchat-chat").start(auth); },
    send(message) { const chat = openChat(); if (chat && chat.socket) chat.send(message); },
  };

  // A new chat's first message goes with the form that makes the conversation (htmx): Enter
  // sends it, and an empty or too long one is answered here without a round trip.
  document.addEventListener("keydown", (event) => {
    if (event.target.id === "new-text" && sends(event)) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });
  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("[data-new-chat]")) return;
    const box = form.querySelector("#new-text");
    const problem = box.value.trim() ? lengthProblem(form, box.value, Number(box.dataset.maxChars)) : form.dataset.sayEmpty;
    const error = form.querySelector("#new-chat-error");
    error.textContent = problem;
    error.hidden = !problem;
    if (problem) event.preventDefault();
  });

  // Esc stops a reply, from anywhere on the page.
  document.addEventListener("keydown", (event) => {
    const chat = openChat();
    if (event.key === "Escape" && chat && chat.streaming != null && !event.target.closest("[data-rename]")) {
      chat.send({ type: "stop" });
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

  // The sidebar's row of the page's URL is the active one.
  function syncActive() {
    const path = location.pathname;
    document.querySelectorAll(".conversation-row").forEach((row) => {
      const link = row.querySelector("a");
      const active = link && new URL(link.href).pathname === path;
      row.classList.toggle("active", active);
      if (active) link.setAttribute("aria-current", "page"); else link?.removeAttribute("aria-current");
    });
  }

  syncActive(); // the script is deferred (or at the end of the frame): the page is parsed
  // Whatever opens in the pane (a conversation, a new chat) takes the phone's screen.
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "pane") {
      document.body.classList.remove("sidebar-shown");
      syncActive();
    }
  });
  // The URL changes after the swap settles: highlight again once it has.
  document.addEventListener("htmx:pushedIntoHistory", syncActive);
  document.addEventListener("htmx:historyRestore", syncActive);
  window.addEventListener("popstate", () => setTimeout(syncActive, 0));
  // The back button may restore a stale page from the cache: reconnecting re-syncs it.
  window.addEventListener("pageshow", (event) => {
    const chat = openChat();
    if (event.persisted && chat && chat.socket) chat.start(chat.auth);
  });
})();
