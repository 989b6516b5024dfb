// The performance view: only the picture, full screen, smoothly upscaled. Frames come over a WebSocket
// (a JSON header, then the PNG bytes), newest only; the control page hears the frame rate and latency
// through a BroadcastChannel.
import { $, TOKEN } from "/static/state.js";

const canvas = $("canvas");
const context = canvas.getContext("2d");
const channel = new BroadcastChannel("swerve-perform");
const shown = [];  // [time shown, latency ms] of recent frames
let header = null;
let picture = null;  // the newest decoded frame, drawn again when the window is resized

function fit() {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(window.innerWidth * ratio);
  canvas.height = Math.round(window.innerHeight * ratio);
  paint();
}

// The picture as large as the window allows, centred, upscaled with the browser's best smoothing.
function paint() {
  context.fillStyle = "#000";
  context.fillRect(0, 0, canvas.width, canvas.height);
  if (!picture) return;
  const scale = Math.min(canvas.width / picture.width, canvas.height / picture.height);
  const w = picture.width * scale;
  const h = picture.height * scale;
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(picture, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
}

async function show(bytes, meta) {
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
  if (picture) picture.close();
  picture = bitmap;
  paint();
  const now = performance.now();
  shown.push([now, Date.now() - meta.changed_at]);
  while (shown.length && now - shown[0][0] > 2000) shown.shift();
  canvas.dataset.frames = String(Number(canvas.dataset.frames) + 1);
  const span = (shown[shown.length - 1][0] - shown[0][0]) / 1000;
  const fps = shown.length > 1 && span > 0 ? (shown.length - 1) / span : 0;
  const latency = shown.map((s) => s[1]).sort((a, b) => a - b);
  channel.postMessage({ fps, latency: latency[Math.floor(latency.length / 2)], frame: meta.frame });
  $("hint").classList.add("gone");
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/perform/stream?token=${encodeURIComponent(TOKEN)}`);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => {
    if (typeof event.data === "string") {
      const message = JSON.parse(event.data);
      if (message.error) { $("hint").textContent = message.error; $("hint").classList.remove("gone"); }
      if (message.frame) header = message;
      return;
    }
    if (header) show(event.data, header).catch((error) => { $("hint").textContent = error.message; });
  };
  socket.onclose = (event) => {
    $("hint").textContent = `stream closed (${event.reason || event.code}); reconnecting`;
    $("hint").classList.remove("gone");
    if (event.code !== 1008) setTimeout(connect, 1000);
  };
}

function fullScreen() {
  if (!document.fullscreenElement) document.documentElement.requestFullscreen().catch(() => {});
}

window.addEventListener("resize", fit);
document.addEventListener("click", fullScreen);
document.addEventListener("keydown", (event) => { if (event.key === "f" || event.key === "F") fullScreen(); });
fit();
connect();
