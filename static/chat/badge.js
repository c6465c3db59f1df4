// The unread-chat count next to "Chat" in the web client's menu, on every page of the shell.
// It asks the API once and again whenever a chat event says the count may have changed.
import { webclient } from "../js/webclient.js";

const link = document.querySelector('.sidemenu a[href$="/webclient/chat/"]');
let timer = null;

async function refresh() {
  if (!link) return;
  const response = await fetch("/api/chat/unread/", { credentials: "same-origin" });
  if (!response.ok) return;
  const { total } = await response.json();
  let badge = link.querySelector(".menu-badge");
  if (!total) { badge?.remove(); return; }
  if (!badge) {
    badge = document.createElement("span");
    badge.className = "badge menu-badge";
    link.append(badge);
  }
  badge.textContent = total;
}

function soon() {
  clearTimeout(timer);
  timer = setTimeout(() => refresh().catch(() => {}), 300);
}

for (const type of ["chat.message", "chat.unread", "chat.conversation"]) webclient.on(type, soon);
refresh().catch(() => {});
