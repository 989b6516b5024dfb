// Shared by the page's panels (gallery.js, rate.js): the server's token, the fetch helper that carries it,
// and a tiny event bus so one panel can tell the others what changed.

// The server writes its token into the page; every API request carries it, so no other site can use the API.
export const TOKEN = document.querySelector('meta[name="swerve-token"]').content;

export const $ = (id) => document.getElementById(id);

// A GET the browser makes without a script (a picture) carries the token in its URL.
export function withToken(path) {
  if (path.includes("token=")) return path;
  return `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(TOKEN)}`;
}

// GET when there is no body, else POST it as JSON; an answer that is not OK throws its one-line error.
export async function api(path, body) {
  const options = body === undefined ? { headers: { "X-Swerve-Token": TOKEN } } : {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Swerve-Token": TOKEN },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const answer = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(answer.error || `${response.status} ${response.statusText}`);
  return answer;
}

// What the panels share: the rater's name survives a reload (so does the session they are in).
export const shared = {
  get rater() { return localStorage.getItem("swerve-rater") || ""; },
  set rater(name) { localStorage.setItem("swerve-rater", name); },
  get session() { return Number(localStorage.getItem("swerve-rate-session")) || null; },
  set session(id) {
    if (id === null) localStorage.removeItem("swerve-rate-session");
    else localStorage.setItem("swerve-rate-session", String(id));
  },
};

const listeners = {};
export function on(kind, handler) { (listeners[kind] ||= []).push(handler); }
export function emit(kind, detail) { (listeners[kind] || []).forEach((handler) => handler(detail)); }

// A one-line message under a panel; errors in red.
export function note(id, text, error = false) {
  const line = $(id);
  line.textContent = text;
  line.classList.toggle("error", error);
}
