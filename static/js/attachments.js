// Files for the next message: the Attach button, dropping files on the composer, or pasting
// an image. Each is uploaded at once (the server checks its size, type and content) and shows
// as a chip; the message is sent with the chips' files (chat.js for an open chat, the new
// chat's form by its hidden inputs). Refusals are said in the composer's error line.
(() => {
  "use strict";

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; }
    catch { return ""; }
  }

  function errorLine(form) { return form.querySelector(".composer-error"); }

  function say(form, message) {
    const line = errorLine(form);
    if (!line) return;
    line.textContent = message;
    line.hidden = !message;
  }

  async function upload(form, file) {
    const zone = form.querySelector("[data-attachments]");
    const data = new FormData();
    data.append("file", file, file.name || "pasted-image");
    const chat = form.closest("[data-conversation]");
    if (chat) data.append("conversation", chat.dataset.conversation);
    const choice = form.querySelector("select[name=choice]");
    if (choice) data.append("choice", choice.value);
    const pending = document.createElement("span");
    pending.className = "attachment uploading";
    pending.textContent = `${zone.dataset.sayUploading || "Uploading"} ${file.name || ""}…`;
    zone.append(pending);
    try {
      const response = await fetch(zone.dataset.uploadUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() },
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) { say(form, answer.error || zone.dataset.sayFailed); return; }
      pending.insertAdjacentHTML("afterend", answer.html);
      say(form, "");
    } catch {
      say(form, zone.dataset.sayFailed);
    } finally {
      pending.remove();
    }
  }

  function uploadAll(form, files) {
    for (const file of files) upload(form, file);
  }

  document.addEventListener("click", async (event) => {
    const attach = event.target.closest("[data-attach]");
    if (attach) {
      attach.closest("form").querySelector("input[type=file][data-attach-input]")?.click();
      return;
    }
    const remove = event.target.closest("[data-remove-attachment]");
    if (remove) {
      const chip = remove.closest("[data-attachment]");
      chip.remove();
      fetch(remove.dataset.url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } });
    }
  });

  document.addEventListener("change", (event) => {
    const input = event.target.closest("input[type=file][data-attach-input]");
    if (!input) return;
    uploadAll(input.closest("form"), [...input.files]);
    input.value = "";
  });

  document.addEventListener("dragover", (event) => {
    const form = event.target.closest?.("form.composer");
    if (form && form.querySelector("[data-attachments]") && event.dataTransfer?.types.includes("Files")) {
      event.preventDefault();
      form.classList.add("dropping");
    }
  });
  document.addEventListener("dragleave", (event) => {
    event.target.closest?.("form.composer")?.classList.remove("dropping");
  });
  document.addEventListener("drop", (event) => {
    const form = event.target.closest?.("form.composer");
    if (!form || !form.querySelector("[data-attachments]") || !event.dataTransfer?.files.length) return;
    event.preventDefault();
    form.classList.remove("dropping");
    uploadAll(form, [...event.dataTransfer.files]);
  });
  document.addEventListener("paste", (event) => {
    const form = event.target.closest?.("form.composer");
    if (!form || !form.querySelector("[data-attachments]")) return;
    const images = [...(event.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
    if (!images.length) return; // text pastes as text
    event.preventDefault();
    uploadAll(form, images);
  });
})();
