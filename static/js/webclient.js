// The web client's one WebSocket (/ws/). Reconnects with backoff; other modules subscribe
// with `webclient.on(type, handler)`. The protocol is documented in docs/events.md.
const handlers = new Map();
let socket = null;
let retryDelay = 1000;
const MAX_RETRY_DELAY = 30000;

function setConnectionState(state) {
  const element = document.getElementById("connection-state");
  if (!element) return;
  element.dataset.state = state;
  element.textContent = element.dataset[`label${state[0].toUpperCase()}${state.slice(1)}`]
    || state;
}

function dispatch(event) {
  for (const handler of handlers.get(event.type) || []) handler(event);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/`);
  socket.addEventListener("open", () => { retryDelay = 1000; });
  socket.addEventListener("message", (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    if (event.type === "hello") setConnectionState("connected");
    dispatch(event);
  });
  socket.addEventListener("close", (close) => {
    setConnectionState("disconnected");
    if (close.code === 4401) { location.reload(); return; }
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, MAX_RETRY_DELAY);
  });
}

export const webclient = {
  on(type, handler) {
    if (!handlers.has(type)) handlers.set(type, []);
    handlers.get(type).push(handler);
  },
  send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  },
};
window.pbxweb = webclient;
connect();
