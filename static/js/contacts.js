// Contacts: search as you type. The server renders the results (same template as the full
// page), so the page works without JavaScript too; this only avoids reloading the page.
const form = document.getElementById("contact-search");
const results = form && document.getElementById(form.dataset.results);
const DEBOUNCE_MS = 200;
let timer = null;
let controller = null;

async function refresh() {
  const params = new URLSearchParams(new FormData(form));
  history.replaceState(null, "", `?${params}`);
  params.set("partial", "1");
  controller?.abort();
  controller = new AbortController();
  try {
    const response = await fetch(`?${params}`, {
      signal: controller.signal, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    });
    if (response.ok) results.innerHTML = await response.text();
  } catch (error) {
    if (error.name !== "AbortError") throw error;
  }
}

if (form && results) {
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
}
