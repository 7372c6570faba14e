// The widget's admin page: copy the snippet, and colour the preview with the widget's accent.
// A static file with no inline script or style attribute, so it runs under a strict CSP.
(() => {
  "use strict";

  function ready() {
    document.querySelectorAll(".widget-preview[data-accent]").forEach((preview) => {
      // CSSOM, not a style attribute: a strict style-src allows it.
      if (/^#[0-9a-f]{6}$/i.test(preview.dataset.accent)) preview.style.setProperty("--accent", preview.dataset.accent);
    });
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const label = button.dataset.label || (button.dataset.label = button.textContent);
    try {
      await navigator.clipboard.writeText(source.textContent);
      button.textContent = button.dataset.copied;
    } catch {
      // No clipboard (an insecure origin, a refused permission): select it for Ctrl+C.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = button.dataset.failed;
    }
    setTimeout(() => { button.textContent = label; }, 2000);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready); else ready();
})();
