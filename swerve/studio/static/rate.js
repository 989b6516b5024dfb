// Rating: a blind session, one picture (or pair) at a time. Keys: 1-5 give novelty then value; left and right
// arrows pick the more surprising of a pair; space skips; escape pauses. Every answer is saved as it is given,
// so a reload (or a restarted studio) resumes where the rater stopped.
import { $, api, emit, note, shared } from "./state.js";

const rating = { current: null, novelty: null, busy: false, answered: 0 };

async function loadSessions() {
  try {
    const { sessions } = await api("/api/rate/sessions");
    const select = $("rate-session");
    select.replaceChildren(...sessions.map((s) => new Option(`${s.name} (${s.kind}, ${s.items})`, String(s.id))));
    if (shared.session && sessions.some((s) => s.id === shared.session)) select.value = String(shared.session);
    $("rate-start").disabled = sessions.length === 0;
  } catch (error) { note("rate-status", error.message, true); }
}

function raterName() {
  const name = $("rater").value.trim();
  if (!name) throw new Error("type your name first: each rater's answers are kept apart");
  shared.rater = name;
  return name;
}

async function newSession() {
  try {
    const rater = raterName();
    const made = await api("/api/rate/sessions", { kind: $("rate-kind").value, seed: Math.floor(Math.random() * 1e6) });
    shared.session = made.id;
    await loadSessions();
    emit("session", made);
    await show(await api(`/api/rate/${made.id}/next?rater=${encodeURIComponent(rater)}`));
  } catch (error) { note("rate-status", error.message, true); }
}

async function start() {
  try {
    const rater = raterName();
    const id = Number($("rate-session").value);
    shared.session = id;
    await show(await api(`/api/rate/${id}/next?rater=${encodeURIComponent(rater)}`));
  } catch (error) { note("rate-status", error.message, true); }
}

function show(answer) {
  rating.current = answer;
  rating.novelty = null;
  const { progress, item, session } = answer;
  $("rate-stage").hidden = false;
  $("rate-stage").dataset.kind = session.kind;
  $("rate-progress").max = progress.total;
  $("rate-progress").value = progress.rated + progress.skipped;
  $("rate-count").textContent =
    `${session.name}: ${progress.rated} rated, ${progress.skipped} skipped of ${progress.total}`;
  $("rate-scores").hidden = session.kind !== "scores";
  $("rate-pair").hidden = session.kind !== "pairwise";
  markScores();
  if (item === null) {
    $("rate-images").replaceChildren();
    $("rate-stage").dataset.position = "done";
    note("rate-status", `session ${session.name} is done: thank you (swerve rate report ${session.name})`);
    return;
  }
  $("rate-stage").dataset.position = String(item.position);
  $("gallery-panel").open = false;  // blind: the gallery names models and methods
  $("rate-images").replaceChildren(...item.images.map((src, i) => {
    const image = new Image();
    image.src = src;
    image.alt = item.images.length > 1 ? ["left", "right"][i] : "the picture to rate";
    return image;
  }));
  note("rate-status", session.kind === "scores"
    ? "novelty, then value: keys 1 to 5 (space skips, escape pauses)"
    : "which is more surprising? ← left, → right (space skips, escape pauses)");
}

function markScores() {
  $("rate-novelty").textContent = rating.novelty ?? "–";
}

async function submit(answer) {
  const current = rating.current;
  if (!current || !current.item || rating.busy) return;
  rating.busy = true;
  try {
    const body = { rater: current.rater, position: current.item.position, ...answer };
    show(await api(`/api/rate/${current.session.id}/rate`, body));
    rating.answered += 1;
  } catch (error) { note("rate-status", error.message, true); }
  rating.busy = false;
}

function onKey(event) {
  const current = rating.current;
  if (!current || !current.item || $("rate-stage").hidden) return;
  if (event.target.closest && event.target.closest("input, select, textarea")) return;
  const kind = current.session.kind;
  if (event.key === " ") {
    event.preventDefault();
    submit({ skip: true });
  } else if (event.key === "Escape") {
    $("rate-stage").hidden = true;
    note("rate-status", "paused: press start to go on where you stopped");
  } else if (kind === "scores" && /^[1-5]$/.test(event.key)) {
    if (rating.novelty === null) {
      rating.novelty = Number(event.key);
      markScores();
    } else {
      submit({ novelty: rating.novelty, value: Number(event.key) });
    }
  } else if (kind === "pairwise" && (event.key === "ArrowLeft" || event.key === "ArrowRight")) {
    event.preventDefault();
    submit({ choice: event.key === "ArrowLeft" ? 0 : 1 });
  }
}

async function setup() {
  $("rater").value = shared.rater;
  $("rate-new").addEventListener("click", newSession);
  $("rate-start").addEventListener("click", start);
  document.addEventListener("keydown", onKey);
  await loadSessions();
  if (shared.rater && shared.session && $("rate-session").value === String(shared.session)) await start();
}

setup();
window.rating = { rating, idle: () => !rating.busy };
