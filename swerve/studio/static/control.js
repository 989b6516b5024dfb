// The Perform panel: opens the full-screen performance view, shows its frame rate and latency, binds knobs
// and faders to sliders ("learn": click a slider, move a knob), loads a mapping file, and turns the
// microphone into mic:* sources (Web Audio AnalyserNode) that drive the mapping live.
import { $, api, note } from "/static/state.js";

const BANDS = 8;  // mic:band.0 .. band.7, log-spaced as swerve react's bands
let live = false;  // once the panel is used, every state the page draws is sent to the performance view
let sending = null;
let pending = null;

// The page's state, as its picture request sends it.
function pageState() {
  const copy = JSON.parse(JSON.stringify(window.studio.state));
  if (copy.pca && !copy.pca.layer) copy.pca = null;
  return copy;
}

// One state request in flight; a newer state waits and replaces any older one waiting.
async function sendState(state) {
  pending = state;
  if (sending) return;
  while (pending) {
    const next = pending;
    pending = null;
    sending = api("/api/perform/state", next).catch((error) => note("perform-note", error.message, true));
    await sending;
  }
  sending = null;
}

function goLive() {
  if (!live && window.studio && window.studio.state.model) sendState(pageState());
  live = true;
}

document.addEventListener("swerve:state", (event) => { if (live) sendState(event.detail); });

// ---------------------------------------------------------------- frame rate and latency
const channel = new BroadcastChannel("swerve-perform");
let heard = 0;
channel.onmessage = (event) => {
  heard = performance.now();
  const { fps, latency } = event.data;
  $("perform-rate").textContent = `${fps.toFixed(1)} fps · ${Math.round(latency)} ms from change to picture`;
};

let polling = false;
async function poll() {
  if (!live || polling) return;  // one status request at a time
  polling = true;
  try {
    const status = await api("/api/perform/status");
    if (performance.now() - heard > 3000) {  // no view in this browser: the server's own count
      const median = status.latency_ms.median;
      $("perform-rate").textContent = status.fps
        ? `${status.fps} fps · ${median === null ? "?" : Math.round(median)} ms (server)` : "not streaming";
    }
    if (status.error) note("perform-note", status.error, true);
    showBindings(status);
    follow(status.live || {});
  } catch (error) { note("perform-note", error.message, true); }
  finally { polling = false; }
}

// The sliders show the controls as they are now, moved by knobs, faders or the microphone: the value is
// set without an input event, so it is not sent back as a change of the page's own.
let held = null;  // the slider under the performer's pointer: left where they put it
document.addEventListener("pointerdown", (event) => { held = event.target; }, true);
document.addEventListener("pointerup", () => { held = null; }, true);

function follow(live) {
  if (learning === "slider") return;
  for (const input of document.querySelectorAll("input[type=range]")) {
    if (input === held) continue;
    const target = targetOf(input);
    if (target === null || !(target in live)) continue;
    const value = Math.min(Number(input.max), Math.max(Number(input.min), live[target]));
    if (Number(input.value) === value) continue;
    input.value = String(value);
    input.dataset.live = input.value;
    const output = input.parentElement.querySelector("output");
    if (output) output.textContent = input.value;
  }
}

function showBindings(status) {
  const list = $("bindings");
  list.innerHTML = "";
  for (const b of (status.mapping && status.mapping.bindings) || []) {
    const item = document.createElement("li");
    item.textContent = `${b.source} → ${b.target} [${b.range.join(", ")}]`;
    list.append(item);
  }
  // waiting for a knob, and the server has bound one (a pick still waiting for a slider click is the page's own)
  if (learning && learning !== "slider" && !status.learning) {
    learning = null;
    $("learn-btn").textContent = "learn";
    const last = status.learned[status.learned.length - 1];
    if (last) note("perform-note", `bound ${last.source} to ${last.target}`);
  }
}

// ---------------------------------------------------------------- learn
let learning = null;  // "slider" while waiting for a click, the target while waiting for a knob

// The control a slider sets, in the mapping format's words; null for a slider that is no control.
function targetOf(input) {
  const fixed = { t: "latent.t", alpha: "blend.alpha", "glitch-amount": "glitch.amount",
    "creative-strength": "creative.strength" };
  if (fixed[input.id]) return fixed[input.id];
  if (input.dataset.pc !== undefined) return `pca.${input.dataset.pc}`;
  const card = input.closest(".bend");
  if (card && input.dataset.param) {
    const layer = card.querySelector(".bend-layer").value;
    const transform = card.querySelector(".bend-transform").value;
    return `${layer}.${transform}.${input.dataset.param}`;
  }
  return null;
}

document.addEventListener("pointerdown", async (event) => {
  if (learning !== "slider" || !(event.target instanceof HTMLInputElement) || event.target.type !== "range") return;
  event.preventDefault();
  event.stopPropagation();
  const target = targetOf(event.target);
  if (!target) { note("perform-note", "that slider cannot be driven live; click another", true); return; }
  const range = [Number(event.target.min), Number(event.target.max)];
  try {
    await api("/api/perform/learn", { target, range });
    learning = target;
    note("perform-note", `${target}: now move a knob, fader or key`);
  } catch (error) {
    note("perform-note", error.message, true);
  }
}, true);

async function toggleLearn() {
  goLive();
  if (learning) {
    learning = null;
    $("learn-btn").textContent = "learn";
    note("perform-note", "learn cancelled");
    await api("/api/perform/learn/cancel", {}).catch(() => {});
    return;
  }
  learning = "slider";
  $("learn-btn").textContent = "cancel learn";
  note("perform-note", "click the slider to drive");
}

// ---------------------------------------------------------------- the microphone
let audio = null;

// What the analyser hears, as sources 0..1: loudness, onset strength (rise in spectrum), and bands.
function features(analyser, spectrum, previous, wave) {
  analyser.getFloatTimeDomainData(wave);
  let sum = 0;
  for (const v of wave) sum += v * v;
  const rms = Math.min(1, Math.sqrt(sum / wave.length) * 4);
  analyser.getByteFrequencyData(spectrum);
  let flux = 0;
  for (let i = 0; i < spectrum.length; i++) flux += Math.max(0, spectrum[i] - previous[i]);
  previous.set(spectrum);
  const values = { "mic:rms": rms, "mic:onset": Math.min(1, flux / (spectrum.length * 16)) };
  for (let k = 0; k < BANDS; k++) {
    const low = Math.floor(Math.pow(spectrum.length, k / BANDS));
    const high = Math.max(low + 1, Math.floor(Math.pow(spectrum.length, (k + 1) / BANDS)));
    let band = 0;
    for (let i = low; i < high; i++) band += spectrum[i];
    values[`mic:band.${k}`] = band / ((high - low) * 255);
  }
  return values;
}

async function micOn() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const spectrum = new Uint8Array(analyser.frequencyBinCount);
  const previous = new Uint8Array(analyser.frequencyBinCount);
  const wave = new Float32Array(analyser.fftSize);
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;  // never queue: the next tick sends what is heard then
    busy = true;
    try { await api("/api/perform/sources", { values: features(analyser, spectrum, previous, wave) }); }
    catch (error) { note("perform-note", error.message, true); }
    finally { busy = false; }
  }, 33);
  audio = { stream, context, timer };
}

function micOff() {
  if (!audio) return;
  clearInterval(audio.timer);
  audio.stream.getTracks().forEach((track) => track.stop());
  audio.context.close();
  audio = null;
}

// ---------------------------------------------------------------- the panel
function setup() {
  $("perform-open").addEventListener("click", () => {
    goLive();
    window.open("/perform", "swerve-perform", "popup");
  });
  $("learn-btn").addEventListener("click", toggleLearn);
  $("mic-on").addEventListener("change", async (event) => {
    goLive();
    if (!event.target.checked) { micOff(); return; }
    try { await micOn(); note("perform-note", "listening: bind mic:rms, mic:onset or mic:band.K in a mapping"); }
    catch (error) { event.target.checked = false; note("perform-note", `no microphone: ${error.message}`, true); }
  });
  $("mapping-file").addEventListener("change", async (event) => {
    goLive();
    const file = event.target.files[0];
    if (!file) return;
    try {
      const status = await api("/api/perform/mapping", JSON.parse(await file.text()));
      showBindings(status);
      note("perform-note", `${file.name}: ${status.mapping.bindings.length} bindings`);
    } catch (error) { note("perform-note", `${file.name}: ${error.message}`, true); }
  });
  setInterval(poll, 200);  // a knob's moves show on its slider within a fifth of a second
}

setup();
