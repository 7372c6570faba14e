// Shared links (sharing/): the Share panel in the chat's header and its page. The server renders
// the panel and every word (data-copied, data-failed); this file copies links and closes the menu.
(() => {
  "use strict";

  function say(from, words) {
    const status = from.closest(".share-panel")?.querySelector("[data-share-status]");
    if (!status) return;
    status.textContent = "";
    // A new text node after a tick, so that saying the same thing twice is heard twice.
    setTimeout(() => { status.textContent = words; }, 50);
  }

  async function copyLink(button) {
    const idle = button.dataset.idle || button.textContent;
    button.dataset.idle = idle;
    try {
      await navigator.clipboard.writeText(button.dataset.copyLink);
      button.textContent = button.dataset.copied;
      say(button, button.closest(".share-panel")?.querySelector("[data-share-status]")?.dataset.sayCopied || "");
    } catch {
      button.textContent = button.dataset.failed;
      // The link is in its box beside the button: selected, Ctrl+C copies it.
      const box = button.parentElement.querySelector("[data-select-all]");
      if (box) { box.focus(); box.select(); }
      say(button, button.dataset.failed);
    }
    setTimeout(() => { button.textContent = idle; }, 1500);
  }

  function close(menu, refocus) {
    menu.open = false;
    if (refocus) menu.querySelector("summary")?.focus();
  }

  document.addEventListener("click", (event) => {
    const copy = event.target.closest("[data-copy-link]");
    if (copy) copyLink(copy);
    // A click elsewhere closes an open Share menu, as it would any menu.
    document.querySelectorAll("details[data-share-menu][open]").forEach((menu) => {
      if (!menu.contains(event.target)) close(menu, false);
    });
  });

  document.addEventListener("focusin", (event) => {
    if (event.target.matches?.("[data-select-all]")) event.target.select();
  });

  // Esc closes the menu and gives the focus back to its button; it stops no reply meanwhile.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const menu = event.target.closest?.("details[data-share-menu][open]");
    if (!menu) return;
    event.preventDefault();
    event.stopPropagation();
    close(menu, true);
  }, true);
})();
