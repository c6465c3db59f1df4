// The new-voicemail count next to "Voicemail" in the menu, on every page of the shell. It is
// read once from the API, then kept live by `voicemail.count` events (docs/events.md); on the
// voicemail page itself a change reloads the list, so a new message appears by itself.
import { webclient } from "../js/webclient.js";

const link = document.querySelector('.sidemenu a[href$="/webclient/voicemail/"]');
let shown = null;

function show(count) {
  if (!link) return;
  let badge = link.querySelector(".menu-badge");
  if (!count) { badge?.remove(); return; }
  if (!badge) {
    badge = document.createElement("span");
    badge.className = "badge menu-badge";
    badge.dataset.voicemail = "new";
    link.append(badge);
  }
  badge.textContent = count;
}

function changed(count) {
  const onList = location.pathname.endsWith("/webclient/voicemail/");
  if (shown !== null && count !== shown && onList) location.reload();
  shown = count;
  show(count);
}

webclient.on("voicemail.count", (event) => changed(event.new));
fetch("/api/voicemail/", { credentials: "same-origin" })
  .then((response) => (response.ok ? response.json() : null))
  .then((data) => { if (data && shown === null) changed(data.new); })
  .catch(() => {});
