// Trash on top of the server's HTML (conversations/views.py renders every row and word): the
// Trash view shown in the list's place, the "Moved to Trash. Undo" toast that goes after a few
// seconds (not while it is pointed at or focused), Ctrl+Z for its Undo, Escape for a question's
// Cancel, and Trash's rows kept in step with what other parts of the page did.
(() => {
  "use strict";
  const sidebar = document.getElementById("sidebar");
  const toast = document.getElementById("toast");
  if (!sidebar || !toast) return;
  const search = document.getElementById("search");
  const UNDO_SHOWN_MS = 8000; // long enough to read it and reach Undo
  const SAID_SHOWN_MS = 4000;

  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

  function announce(text) {
    const el = document.getElementById("announcer");
    if (el && text) { el.textContent = ""; setTimeout(() => { el.textContent = text; }, 50); }
  }

  // --- the Trash view: like the Archived one, it takes the list's place -----------------------
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-show-trash]")) {
      if (search && search.value) {
        search.value = "";
        htmx.trigger(search, "search");
      }
      sidebar.classList.remove("showing-archived");
      sidebar.classList.add("showing-trash");
      document.getElementById("trash-heading")?.focus();
    } else if (event.target.closest("[data-hide-trash]")) {
      sidebar.classList.remove("showing-trash");
      sidebar.querySelector("[data-show-trash]")?.focus();
    }
  });
  search?.addEventListener("input", () => sidebar.classList.remove("showing-trash"));

  // --- the toast ---------------------------------------------------------------------------
  let timer = null;

  function expire() {
    // Not from under the pointer or the focus (someone about to press Undo): a little later.
    if (toast.matches(":hover") || toast.contains(document.activeElement)) {
      timer = setTimeout(expire, 1000);
      return;
    }
    timer = null;
    toast.replaceChildren();
  }

  // Whatever the server puts in the toast (a move to Trash, an Undo done) stays a few seconds.
  new MutationObserver(() => {
    clearTimeout(timer);
    timer = null;
    if (!toast.textContent.trim()) return;
    timer = setTimeout(expire, toast.querySelector("[data-undo]") ? UNDO_SHOWN_MS : SAID_SHOWN_MS);
  }).observe(toast, { childList: true });

  // Ctrl+Z (⌘Z on a Mac) presses the toast's Undo, wherever the focus is but in a text field
  // (there it undoes typing, as it always does).
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing || typing(event.target)) return;
    if (!(event.ctrlKey || event.metaKey) || event.shiftKey || event.altKey) return;
    if (event.key.toLowerCase() !== "z") return;
    const undo = toast.querySelector("[data-undo]");
    if (undo) { event.preventDefault(); undo.click(); }
  });

  // Escape answers "Delete forever?" (a row's, the chat's, Empty trash's) with Cancel.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    const question = event.target.closest && event.target.closest(".trash-confirm");
    const cancel = question?.querySelector("[data-confirm-cancel]");
    if (cancel) { event.preventDefault(); cancel.click(); }
  });

  // --- Trash's rows, after something elsewhere on the page ----------------------------------
  // Restored (the toast, the chat's notice) or deleted for good (the chat's notice): its row
  // leaves Trash's list, if that was loaded; and the change is said aloud.
  document.addEventListener("trash-changed", (event) => {
    const { id, said } = event.detail;
    if (id) document.getElementById(`trashed-${id}`)?.remove();
    announce(said);
  });

  // Trash emptied: its question is gone, and with it the focus; the Trash heading takes it.
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target?.id !== "empty-trash") return;
    const active = document.activeElement;
    if (!active || active === document.body || !active.isConnected || !active.getClientRects().length) {
      document.getElementById("trash-heading")?.focus();
    }
  });
})();
