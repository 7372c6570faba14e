// The reader's time zone, for the server, which keeps times in UTC: the sidebar's dated groups
// (Today, Yesterday, …) are the reader's days (conversations/sidebar.py reads this cookie). On
// every page, the sign-in page too, so that the first list a person sees is dated right.
(() => {
  "use strict";
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch { return; }
  // An IANA name ("Europe/Paris"): nothing in it needs quoting in a cookie.
  if (!/^[A-Za-z][A-Za-z0-9_+\-]*(\/[A-Za-z0-9_+\-]+){0,2}$/.test(zone)) return;
  const had = document.cookie.split("; ").find((c) => c.startsWith("webchat_tz="));
  if (had === `webchat_tz=${zone}`) return;
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `webchat_tz=${zone}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
  // This page was dated in another zone (or the server's): static/js/sidebar.js asks again.
  document.documentElement.dataset.zoneChanged = "1";
})();
