// The sidebar on top of the server's HTML (conversations/views.py renders every row, heading and
// word): dated headings kept tidy as rows come and go, the Archived view shown in place of the
// list, focus kept near a row that an action took away, and each change said aloud.
(() => {
  "use strict";
  const sidebar = document.getElementById("sidebar");
  if (!sidebar) return;
  const search = document.getElementById("search");

  // A heading shows above the first row of its group only. The server's pages come tidy; rows
  // swapped in (a new chat's, with a "Today" of its own) or taken out (pinned, archived,
  // deleted) would leave a heading twice, or over nothing.
  function tidyHeadings() {
    sidebar.querySelectorAll("ul.conversation-list").forEach((list) => {
      let heading = null;
      let shown = null;
      for (const li of list.children) {
        if (li.classList.contains("group-heading")) {
          li.hidden = true;
          heading = li;
        } else if (li.classList.contains("conversation-row")) {
          if (heading && heading.dataset.group !== shown) {
            heading.hidden = false;
            shown = heading.dataset.group;
          }
          heading = null;
        }
      }
    });
  }
  // Rows change by htmx swaps and by the socket's title frames alike: watch the lists.
  new MutationObserver(tidyHeadings).observe(sidebar, { childList: true, subtree: true });
  tidyHeadings();

  // The page was dated in another time zone than the reader's (static/js/timezone.js has just
  // set the cookie): the lists again, dated in theirs.
  const lists = document.getElementById("sidebar-lists");
  if (document.documentElement.dataset.zoneChanged && lists && window.htmx && !search?.value) {
    htmx.ajax("GET", lists.dataset.refresh, { target: lists, swap: "innerHTML" });
  }

  // The Archived view takes the list's place (its link loads it); a search, which finds
  // archived ones too, gives way to it, and typing a search leaves it.
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-show-archived]")) {
      if (search && search.value) {
        search.value = "";
        htmx.trigger(search, "search");
      }
      sidebar.classList.add("showing-archived");
      document.getElementById("archived-heading")?.focus();
    } else if (event.target.closest("[data-show-all]")) {
      sidebar.classList.remove("showing-archived");
      sidebar.querySelector("[data-show-archived]")?.focus();
    }
  });
  search?.addEventListener("input", () => sidebar.classList.remove("showing-archived"));

  // Pinned, unpinned, archived, restored: the server's words, said aloud. Restored from the open
  // chat's notice, its row leaves the Archived view here (the server re-renders the lists).
  document.addEventListener("sidebar-changed", (event) => {
    const { id, said, restored } = event.detail;
    if (restored) document.querySelector(`#archived-list #conversation-${id}`)?.remove();
    announce(said);
  });

  function announce(text) {
    const el = document.getElementById("announcer");
    if (el) { el.textContent = ""; setTimeout(() => { el.textContent = text; }, 50); }
  }

  // A swap that takes away the focused row (archive, restore, delete, a rename saved) or the
  // chat's notice would leave focus nowhere: it goes to the row that replaced it, else a
  // neighbour, else the composer or the search box. A swap that focuses something itself
  // (`autofocus`, as a pin's new row has) wins: this runs after htmx has settled.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (!target || !target.contains(document.activeElement)) return;
    const candidates = [];
    if (target.classList.contains("conversation-row")) {
      candidates.push(() => document.getElementById(target.id)?.querySelector("a"));
      const row = (from, step) => {
        let el = from[step];
        while (el && !el.classList.contains("conversation-row")) el = el[step];
        return el?.querySelector("a");
      };
      const next = row(target, "nextElementSibling");
      const previous = row(target, "previousElementSibling");
      candidates.push(() => next, () => previous);
    }
    candidates.push(() => document.getElementById("composer-text"), () => search);
    setTimeout(() => {
      const active = document.activeElement;
      if (active && active !== document.body && active.isConnected) return;
      for (const candidate of candidates) {
        const el = candidate();
        if (el && el.isConnected && !el.disabled && el.getClientRects().length) { el.focus(); return; }
      }
    }, (window.htmx ? htmx.config.defaultSettleDelay : 20) + 30);
  });
})();
