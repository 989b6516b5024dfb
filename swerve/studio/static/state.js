// Talking to the studio's server: every API request carries the token the server wrote into the page.
export const TOKEN = document.querySelector('meta[name="swerve-token"]').content;

// A GET the browser makes without a script (a link, a picture, an event stream) carries the token in its URL.
export function withToken(path) {
  return `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(TOKEN)}`;
}

// GET (no body) or POST a body; answers JSON or a Blob, throws an Error with the server's one-line reason.
export async function api(path, body, kind = "application/json") {
  const options = body === undefined ? { headers: { "X-Swerve-Token": TOKEN } } : {
    method: "POST",
    headers: { "Content-Type": kind, "X-Swerve-Token": TOKEN },
    body: kind === "application/json" ? JSON.stringify(body) : body,
  };
  const response = await fetch(path, options);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  const type = response.headers.get("content-type") || "";
  return type.startsWith("application/json") ? response.json() : response.blob();
}
