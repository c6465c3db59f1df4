// The chat page (SPEC.md W6). Messages arrive over the web client's one WebSocket as
// `chat.message` events (docs/events.md); they are sent as `chat.send` frames with a client_id,
// and re-sent over the REST API with the same client_id if no echo comes back (the server
// stores a client_id once, so a retry never duplicates). Everything user-written is put in
// the page with textContent, never as HTML.
import { webclient } from "../js/webclient.js";

const root = document.getElementById("chat");
const me = Number(root.dataset.me);
const maxFileBytes = Number(root.dataset.maxFileBytes);
const labels = JSON.parse(document.getElementById("chat-labels").textContent);
const csrfToken = document.querySelector("input[name=csrfmiddlewaretoken]").value;
const $ = (id) => document.getElementById(id);
const ECHO_TIMEOUT_MS = 5000;

const state = {
  showArchived: false,
  conversations: new Map(), // id -> conversation (as the API returns it)
  current: null,            // open conversation id
  oldestId: null,
  hasMore: false,
  loadingOlder: false,
  pending: new Map(),       // client_id -> {element, timer, text, conversation}
};

function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => values[key] ?? "");
}

async function api(path, { method = "GET", body = null, form = null } = {}) {
  const headers = { "X-CSRFToken": csrfToken, Accept: "application/json" };
  let payload = null;
  if (form) payload = form;
  else if (body) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const response = await fetch(`/api/chat/${path}`, {
    method, headers, body: payload, credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || `${response.status}`);
  return data;
}

function showError(text) { $("chat-error").textContent = text || ""; }

// --- conversation list ----------------------------------------------------------------------
async function loadConversations() {
  const data = await api(`conversations/?archived=${state.showArchived ? 1 : 0}`);
  state.conversations = new Map(data.conversations.map((c) => [c.id, c]));
  renderConversations();
}

function renderConversations() {
  const list = $("chat-conversations");
  list.replaceChildren();
  for (const conversation of state.conversations.values()) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "chat-conversation";
    button.dataset.id = conversation.id;
    if (conversation.id === state.current) button.setAttribute("aria-current", "true");
    const title = document.createElement("span");
    title.className = "chat-conversation-title";
    title.textContent = conversation.title;
    button.append(title);
    if (conversation.unread > 0) {
      const badge = document.createElement("span");
      badge.className = "chat-badge";
      badge.textContent = conversation.unread;
      badge.setAttribute("aria-label", format(labels.unread, { n: conversation.unread }));
      button.append(badge);
    }
    const last = conversation.last_message;
    if (last) {
      const preview = document.createElement("span");
      preview.className = "chat-conversation-last muted";
      preview.textContent = last.text || (last.attachment ? last.attachment.name : "");
      button.append(preview);
    }
    button.addEventListener("click", () => openConversation(conversation.id));
    item.append(button);
    list.append(item);
  }
  $("chat-empty").hidden = state.conversations.size > 0;
}

function setListMode(archived) {
  state.showArchived = archived;
  $("chat-show-active").setAttribute("aria-pressed", String(!archived));
  $("chat-show-archived").setAttribute("aria-pressed", String(archived));
  loadConversations().catch((error) => showError(error.message));
}

// --- one conversation -----------------------------------------------------------------------
function messageStatus(message) {
  const conversation = state.conversations.get(message.conversation) || currentConversation;
  const others = (conversation?.members || []).filter((m) => m.id !== me);
  if (others.length && others.every((m) => m.read_up_to >= message.id)) return "read";
  if (others.length && others.every((m) => m.delivered_up_to >= message.id)) return "delivered";
  return "sent";
}

let currentConversation = null;

function renderMessage(message) {
  const item = document.createElement("li");
  item.className = "chat-message";
  item.dataset.id = message.id;
  const mine = message.sender && message.sender.id === me;
  if (mine) item.classList.add("mine");
  const who = document.createElement("span");
  who.className = "chat-sender";
  who.textContent = mine ? labels.you : (message.sender ? message.sender.name : "—");
  const when = document.createElement("time");
  when.dateTime = message.created_at;
  when.textContent = new Date(message.created_at).toLocaleString();
  item.append(who, " ", when);
  if (message.text) {
    const text = document.createElement("p");
    text.className = "chat-text";
    text.textContent = message.text;
    item.append(text);
  }
  if (message.attachment) item.append(renderAttachment(message.attachment));
  if (mine) {
    const status = document.createElement("span");
    status.className = "chat-status muted";
    const value = message.id ? messageStatus(message) : "sending";
    status.dataset.status = value;
    status.textContent = labels[value];
    item.append(status);
  }
  return item;
}

function renderAttachment(attachment) {
  const box = document.createElement("div");
  box.className = "chat-attachment";
  if (attachment.preview_url) {
    const image = document.createElement("img");
    image.src = attachment.preview_url;
    image.alt = attachment.name;
    image.width = attachment.preview_width;
    image.height = attachment.preview_height;
    image.loading = "lazy";
    box.append(image);
  }
  const link = document.createElement("a");
  link.href = attachment.url;
  link.download = attachment.name;
  link.className = "chat-download";
  link.textContent = `${attachment.name} (${Math.ceil(attachment.size / 1024)} kB)`;
  link.setAttribute("aria-label", format(labels.download, { name: attachment.name }));
  box.append(link);
  return box;
}

function refreshStatuses() {
  for (const element of $("chat-messages").querySelectorAll(".chat-message.mine[data-id]")) {
    const id = Number(element.dataset.id);
    if (!id) continue;
    const status = element.querySelector(".chat-status");
    const value = messageStatus({ id, conversation: state.current });
    status.dataset.status = value;
    status.textContent = labels[value];
  }
}

function appendMessage(message) {
  const list = $("chat-messages");
  if (list.querySelector(`.chat-message[data-id="${message.id}"]`)) return;
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.append(renderMessage(message));
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

async function openConversation(id) {
  state.current = id;
  state.oldestId = null;
  showError("");
  currentConversation = await api(`conversations/${id}/`);
  state.conversations.set(id, { ...(state.conversations.get(id) || {}), ...currentConversation });
  $("chat-title").textContent = currentConversation.title;
  $("chat-members").textContent = currentConversation.members.map((m) => `${m.name} (${m.number})`).join(", ");
  $("chat-archive").hidden = currentConversation.archived;
  $("chat-restore").hidden = !currentConversation.archived;
  $("chat-composer").hidden = false;
  $("chat-messages").replaceChildren();
  const page = await api(`conversations/${id}/messages/`);
  for (const message of page.messages) appendMessage(message);
  state.oldestId = page.messages.length ? page.messages[0].id : null;
  state.hasMore = page.has_more;
  $("chat-older").hidden = !state.hasMore;
  $("chat-messages").scrollTop = $("chat-messages").scrollHeight;
  renderConversations();
  markRead();
  $("chat-text").focus();
}

async function loadOlder() {
  if (!state.current || !state.hasMore || state.loadingOlder) return;
  state.loadingOlder = true;
  try {
    const list = $("chat-messages");
    const before = list.scrollHeight;
    const page = await api(`conversations/${state.current}/messages/?before=${state.oldestId}`);
    const fragment = document.createDocumentFragment();
    for (const message of page.messages) fragment.append(renderMessage(message));
    list.prepend(fragment);
    list.scrollTop += list.scrollHeight - before; // keep the reader's place
    if (page.messages.length) state.oldestId = page.messages[0].id;
    state.hasMore = page.has_more;
    $("chat-older").hidden = !state.hasMore;
  } finally {
    state.loadingOlder = false;
  }
}

function markRead() {
  if (!state.current || document.hidden) return;
  const stored = $("chat-messages").querySelectorAll(".chat-message[data-id]");
  const last = stored[stored.length - 1];
  const conversation = state.conversations.get(state.current);
  if (conversation) conversation.unread = 0;
  renderConversations();
  if (last) webclient.send({ type: "chat.read", conversation: state.current, message: Number(last.dataset.id) });
}

// --- sending --------------------------------------------------------------------------------
function sendText(text) {
  const clientId = crypto.randomUUID();
  const conversation = state.current;
  const element = renderMessage({ id: 0, client_id: clientId, conversation, text,
    sender: { id: me }, created_at: new Date().toISOString(), attachment: null });
  element.dataset.clientId = clientId;
  element.removeAttribute("data-id");
  $("chat-messages").append(element);
  $("chat-messages").scrollTop = $("chat-messages").scrollHeight;
  // No echo in time (socket down or slow): send the same client_id over REST.
  const timer = setTimeout(() => resendOverRest(clientId), ECHO_TIMEOUT_MS);
  state.pending.set(clientId, { element, timer, text, conversation });
  webclient.send({ type: "chat.send", conversation, text, client_id: clientId });
}

async function resendOverRest(clientId) {
  const pending = state.pending.get(clientId);
  if (!pending) return;
  try {
    const message = await api(`conversations/${pending.conversation}/messages/`,
      { method: "POST", body: { text: pending.text, client_id: clientId } });
    settle(message);
  } catch (error) {
    failPending(clientId, error.message);
  }
}

function settle(message) {
  const pending = message.client_id && state.pending.get(message.client_id);
  if (!pending) return false;
  clearTimeout(pending.timer);
  state.pending.delete(message.client_id);
  if (message.conversation === state.current) pending.element.replaceWith(renderMessage(message));
  else pending.element.remove();
  return true;
}

function failPending(clientId, text) {
  const pending = state.pending.get(clientId);
  if (!pending) return;
  clearTimeout(pending.timer);
  state.pending.delete(clientId);
  const status = pending.element.querySelector(".chat-status");
  status.dataset.status = "failed";
  status.textContent = labels.failed;
  showError(text);
}

async function shareFile(file, text) {
  if (file.size > maxFileBytes) { showError(labels.fileTooLarge); return; }
  const form = new FormData();
  form.append("file", file);
  if (text) form.append("text", text);
  const message = await api(`conversations/${state.current}/attachments/`, { method: "POST", form });
  appendMessage(message);
}

// --- events from the server -----------------------------------------------------------------
function notify(message) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const sender = message.sender ? message.sender.name : "";
  const notification = new Notification(format(labels.newMessage, { name: sender }), {
    body: message.text || (message.attachment ? message.attachment.name : ""),
    tag: `chat-${message.conversation}`,
  });
  notification.addEventListener("click", () => { window.focus(); openConversation(message.conversation); });
}

webclient.on("chat.message", (event) => {
  const message = event.message;
  const fromOther = !message.sender || message.sender.id !== me;
  if (fromOther) {
    webclient.send({ type: "chat.delivered", conversation: message.conversation, message: message.id });
    if (document.hidden) notify(message);
  }
  if (!settle(message) && message.conversation === state.current) appendMessage(message);
  const conversation = state.conversations.get(message.conversation);
  if (conversation) {
    conversation.last_message = message;
    conversation.last_message_at = message.created_at;
    if (fromOther && message.conversation !== state.current) conversation.unread += 1;
    renderConversations();
  } else if (!state.showArchived) {
    loadConversations();
  }
  if (fromOther && message.conversation === state.current) markRead();
});

webclient.on("chat.receipt", (event) => {
  for (const conversation of [state.conversations.get(event.conversation),
    event.conversation === state.current ? currentConversation : null]) {
    const member = conversation?.members.find((m) => m.id === event.extension);
    if (member) Object.assign(member, { delivered_up_to: event.delivered_up_to, read_up_to: event.read_up_to });
  }
  if (event.conversation === state.current) refreshStatuses();
});

webclient.on("chat.unread", (event) => {
  const conversation = state.conversations.get(event.conversation);
  if (conversation) { conversation.unread = event.unread; renderConversations(); }
});

webclient.on("chat.conversation", (event) => {
  const conversation = event.conversation;
  if (conversation.archived === state.showArchived) state.conversations.set(conversation.id, conversation);
  else state.conversations.delete(conversation.id);
  if (conversation.id === state.current) {
    currentConversation = conversation;
    $("chat-archive").hidden = conversation.archived;
    $("chat-restore").hidden = !conversation.archived;
  }
  renderConversations();
});

webclient.on("error", (event) => {
  if (event.ref) failPending(event.ref, event.message);
  else if (event.code === "rate_limited") showError(event.message);
});

// --- controls -------------------------------------------------------------------------------
async function fillColleagues() {
  const data = await api("colleagues/");
  for (const select of [$("chat-colleague"), $("chat-group-members")]) {
    select.replaceChildren(...data.colleagues.map((c) => new Option(`${c.name} (${c.number})`, c.number)));
  }
}

$("chat-show-active").addEventListener("click", () => setListMode(false));
$("chat-show-archived").addEventListener("click", () => setListMode(true));
$("chat-older").addEventListener("click", () => loadOlder());
$("chat-messages").addEventListener("scroll", () => {
  if ($("chat-messages").scrollTop < 40) loadOlder();
});

$("chat-composer").addEventListener("submit", async (submit) => {
  submit.preventDefault();
  showError("");
  const text = $("chat-text").value.trim();
  const file = $("chat-file").files[0];
  try {
    if (file) {
      await shareFile(file, text);
      $("chat-file").value = "";
    } else if (text) {
      sendText(text);
    }
    $("chat-text").value = "";
  } catch (error) {
    showError(error.message);
  }
});
$("chat-text").addEventListener("keydown", (key) => {
  if (key.key === "Enter" && !key.shiftKey && !key.isComposing) {
    key.preventDefault();
    $("chat-composer").requestSubmit();
  }
});

$("chat-new-direct").addEventListener("submit", async (submit) => {
  submit.preventDefault();
  try {
    const conversation = await api("conversations/", { method: "POST", body: { kind: "direct", with: $("chat-colleague").value } });
    $("chat-new").open = false;
    if (state.showArchived) setListMode(false);
    state.conversations.set(conversation.id, conversation);
    await openConversation(conversation.id);
  } catch (error) { showError(error.message); }
});
$("chat-new-group").addEventListener("submit", async (submit) => {
  submit.preventDefault();
  const members = [...$("chat-group-members").selectedOptions].map((o) => o.value);
  try {
    const conversation = await api("conversations/", { method: "POST", body: { kind: "group", title: $("chat-group-title").value, members } });
    $("chat-new").open = false;
    state.conversations.set(conversation.id, conversation);
    await openConversation(conversation.id);
  } catch (error) { showError(error.message); }
});

for (const [button, action] of [["chat-archive", "archive"], ["chat-restore", "restore"]]) {
  $(button).addEventListener("click", async () => {
    try {
      const conversation = await api(`conversations/${state.current}/${action}/`, { method: "POST" });
      currentConversation = conversation;
      $("chat-archive").hidden = conversation.archived;
      $("chat-restore").hidden = !conversation.archived;
      await loadConversations();
      $("chat-title").focus();
    } catch (error) { showError(error.message); }
  });
}

let searchTimer = null;
$("chat-search").addEventListener("submit", (submit) => { submit.preventDefault(); runSearch(); });
$("chat-search-q").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 250);
});
async function runSearch() {
  const text = $("chat-search-q").value.trim();
  const box = $("chat-search-results");
  const list = box.querySelector("ul");
  list.replaceChildren();
  if (!text) { box.hidden = true; return; }
  const data = await api(`search/?q=${encodeURIComponent(text)}`);
  box.hidden = false;
  const results = [
    ...data.conversations.map((c) => ({ conversation: c.id, label: c.title, archived: c.archived })),
    ...data.messages.map((m) => ({ conversation: m.conversation,
      label: `${m.sender ? m.sender.name : ""}: ${m.text || (m.attachment ? m.attachment.name : "")}` })),
  ];
  if (!results.length) {
    const item = document.createElement("li");
    item.textContent = labels.noResults;
    list.append(item);
  }
  for (const result of results) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "chat-search-result";
    button.textContent = result.archived ? `${result.label} (${labels.archived})` : result.label;
    button.addEventListener("click", () => openConversation(result.conversation));
    item.append(button);
    list.append(item);
  }
}

if ("Notification" in window && Notification.permission === "default") {
  $("chat-notify").hidden = false;
  $("chat-notify").addEventListener("click", async () => {
    await Notification.requestPermission();
    $("chat-notify").hidden = true;
  });
}
document.addEventListener("visibilitychange", () => { if (!document.hidden) markRead(); });

loadConversations().catch((error) => showError(error.message));
fillColleagues().catch((error) => showError(error.message));
