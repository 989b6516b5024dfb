// swerve studio: a text model's samples as a list of strings. The page announces every state it draws
// ("swerve:state"); for a text model this module asks the server for the strings of that state and of the
// seeds after it, and lists them, so the list follows every slider. For an image model it stays hidden.

const $ = (id) => document.getElementById(id);
const TOKEN = document.querySelector('meta[name="swerve-token"]').content;
const COUNT = 8;
const kinds = new Map();  // model id -> is it a text model?
let latest = 0;  // only the answer to the newest state is shown

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Swerve-Token": TOKEN },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `${response.status} ${response.statusText}`);
  return answer;
}

async function isText(model) {
  if (!kinds.has(model)) {
    const response = await fetch(`/api/model?id=${encodeURIComponent(model)}`, {
      headers: { "X-Swerve-Token": TOKEN },
    });
    const info = response.ok ? await response.json() : {};
    kinds.set(model, Boolean(info.text));
  }
  return kinds.get(model);
}

function show(strings) {
  const list = $("text-list");
  list.replaceChildren(...strings.map((s) => {
    const item = document.createElement("li");
    item.textContent = s;
    return item;
  }));
  list.dataset.updates = String(Number(list.dataset.updates || 0) + 1);
}

document.addEventListener("swerve:state", async (event) => {
  const state = event.detail;
  const mine = ++latest;
  const box = $("text-box");
  try {
    const text = await isText(state.model);
    box.hidden = !text;
    $("image").hidden = text;
    if (!text) return;
    const { strings } = await post("/api/strings", { state, n: COUNT });
    if (mine === latest) show(strings);
  } catch (error) {
    if (mine === latest) $("text-error").textContent = error.message;
  }
});
