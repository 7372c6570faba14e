// Keyboard shortcuts of the team chat, and the "?" dialog that lists them
// (templates/conversations/shortcuts.html). Ctrl on Windows and Linux, Cmd on a Mac.
(() => {
  "use strict";

  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  const mod = (event) => event.ctrlKey || event.metaKey;

  function showSidebarOnPhone() {
    // On a narrow screen the list slides in; on a wide one it is always there.
    if (window.matchMedia("(max-width: 760px)").matches) document.body.classList.add("sidebar-shown");
  }

  function lastReplyCopy() {
    const buttons = document.querySelectorAll(".reply [data-copy-reply]");
    return buttons[buttons.length - 1];
  }

  function editLastMessage() {
    const mine = document.querySelectorAll("#messages .message.user [data-edit]");
    const edit = mine[mine.length - 1];
    if (!edit) return false;
    edit.click();
    return true;
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing) return;
    const key = event.key.toLowerCase();
    if (mod(event) && event.shiftKey && key === "o") {
      event.preventDefault();
      // The new chat's box takes the keys once it is in the page.
      document.addEventListener("htmx:afterSettle", () => document.getElementById("new-text")?.focus(), { once: true });
      document.querySelector(".new-conversation")?.click();
      return;
    }
    if (mod(event) && !event.shiftKey && key === "k") {
      event.preventDefault();
      showSidebarOnPhone();
      const search = document.getElementById("search");
      if (search) { search.focus(); search.select(); }
      return;
    }
    if (mod(event) && event.shiftKey && key === "c") {
      const copy = lastReplyCopy();
      if (copy) { event.preventDefault(); copy.click(); copy.focus(); }
      return;
    }
    if (event.key === "ArrowUp" && event.target.id === "composer-text" && !event.target.value
        && !event.shiftKey && !mod(event) && !event.altKey) {
      if (editLastMessage()) event.preventDefault();
      return;
    }
    if (event.key === "?" && !mod(event) && !typing(event.target)) {
      const dialog = document.getElementById("shortcuts");
      if (dialog && !dialog.open) { event.preventDefault(); dialog.showModal(); }
    }
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-show-shortcuts]")) document.getElementById("shortcuts")?.showModal();
    if (event.target.closest("[data-close-dialog]")) event.target.closest("dialog")?.close();
  });
})();
