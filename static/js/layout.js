// The phone's layout (issue 14, item 14). On a narrow screen the conversation list is the home
// screen; elsewhere it slides over the chat. Whatever is out of sight is `inert`: keyboard and
// screen-reader users cannot land in a closed list or in the chat behind an open one.
(() => {
  "use strict";

  const narrow = window.matchMedia("(max-width: 760px)");

  function sync() {
    const body = document.body;
    const sidebar = document.querySelector(".sidebar");
    const pane = document.getElementById("pane");
    if (!sidebar || !pane) return;
    const listed = body.classList.contains("home") || body.classList.contains("sidebar-shown");
    sidebar.inert = narrow.matches && !listed;
    pane.inert = narrow.matches && listed;
  }

  new MutationObserver(sync).observe(document.body, { attributes: true, attributeFilter: ["class"] });
  narrow.addEventListener("change", sync);

  // Opening a conversation or a new chat leaves the home screen; coming back to "/" by the
  // history shows it again.
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "pane") document.body.classList.remove("home");
  });
  document.addEventListener("htmx:historyRestore", () => {
    document.body.classList.toggle("home", location.pathname === "/" && !document.getElementById("chat"));
  });
  // Escape closes the list that slid over the chat, and the chat takes the keys again.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && narrow.matches && document.body.classList.contains("sidebar-shown")) {
      document.body.classList.remove("sidebar-shown");
      sync(); // now, not when the observer runs: an inert chat cannot take the focus
      document.querySelector("#pane [data-toggle-sidebar]")?.focus();
    }
  });
  sync();
})();
