// The sketch pad: draw (mouse or pen; brush size, eraser, undo, clear) or drop a picture, and see it
// rendered through a translation (pix2pix) model at each stroke's end, with the bends the page has set.
import { TOKEN, api } from "./state.js";

// POST a JSON body to a route that answers a picture; an answer that is not OK throws its one-line error.
async function picture(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Swerve-Token": TOKEN },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    throw new Error(answer.error || `${response.status} ${response.statusText}`);
  }
  return response.blob();
}

const SIZE = 128;
const DEFAULT_MODEL = "emoji-lineart2colour";  // line art drawn in black on white comes out in colour
let pageBends = [];
document.addEventListener("swerve:state", (event) => { pageBends = event.detail.bends || []; });

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function build() {
  const models = element("select", { id: "sketch-model", title: "translation model" });
  const brush = element("input", { id: "sketch-brush", type: "range", min: 1, max: 24, value: 4 });
  const eraser = element("input", { id: "sketch-eraser", type: "checkbox" });
  const undo = element("button", { id: "sketch-undo", type: "button" }, "undo");
  const clear = element("button", { id: "sketch-clear", type: "button" }, "clear");
  const keep = element("button", { id: "sketch-keep", type: "button" }, "keep");
  const generators = element("select", { id: "sketch-generator", title: "a generator to project into" });
  const project = element("button", { id: "sketch-project", type: "button" }, "project into");
  const withBends = element("input", { id: "sketch-bends", type: "checkbox", checked: true });
  const canvas = element("canvas", { id: "sketch-canvas", width: SIZE, height: SIZE });
  const result = element("img", { id: "sketch-result", alt: "the rendered sketch", width: 256, height: 256 });
  const status = element("p", { id: "sketch-status" });
  canvas.style.cssText = "width:256px;height:256px;touch-action:none;border:1px solid #888;background:#fff";
  const panel = element(
    "details", { id: "sketch-panel" },
    element("summary", {}, "Sketch pad"),
    element("p", {}, models, " brush ", brush, element("label", {}, eraser, " eraser"), " ", undo, " ", clear,
      element("label", {}, withBends, " page bends"), " ", keep),
    element("div", {}, canvas, " ", result),
    element("p", {}, project, " ", generators, " (finds the latent that remakes the drawing, then opens it)"),
    status,
  );
  (document.querySelector("#controls") || document.body).append(panel);
  return { models, brush, eraser, undo, clear, keep, generators, project, withBends, canvas, result, status };
}

function start() {
  const ui = build();
  const ctx = ui.canvas.getContext("2d");
  const history = [];
  const blank = () => { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, SIZE, SIZE); };
  blank();
  let rendering = false;
  let again = false;

  const sketchBody = () => ({
    model: ui.models.value,
    picture: ui.canvas.toDataURL("image/png"),
    bends: ui.withBends.checked ? pageBends : [],
  });

  async function render() {
    if (!ui.models.value) { ui.status.textContent = "no translation model in the studio's folders"; return; }
    if (rendering) { again = true; return; }
    rendering = true;
    const started = performance.now();
    try {
      const blob = await picture("/api/sketch", sketchBody());
      const old = ui.result.src;
      ui.result.src = URL.createObjectURL(blob);
      await ui.result.decode().catch(() => {});
      if (old) URL.revokeObjectURL(old);
      ui.result.dataset.renders = String(Number(ui.result.dataset.renders || 0) + 1);
      ui.status.textContent = `rendered in ${Math.round(performance.now() - started)} ms`;
    } catch (error) {
      ui.status.textContent = error.message;
    } finally {
      rendering = false;
      if (again) { again = false; render(); }
    }
  }

  const point = (event) => {
    const box = ui.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * SIZE / box.width, (event.clientY - box.top) * SIZE / box.height];
  };
  let last = null;
  ui.canvas.addEventListener("pointerdown", (event) => {
    history.push(ctx.getImageData(0, 0, SIZE, SIZE));
    if (history.length > 50) history.shift();
    ui.canvas.setPointerCapture(event.pointerId);
    last = point(event);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  });
  ui.canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    const now = point(event);
    ctx.strokeStyle = ui.eraser.checked ? "#fff" : "#000";
    ctx.lineWidth = Number(ui.brush.value) * (event.pressure > 0 && event.pointerType === "pen" ? 2 * event.pressure : 1);
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...now);
    ctx.stroke();
    last = now;
  });
  const end = () => { if (last) { last = null; render(); } };
  ui.canvas.addEventListener("pointerup", end);
  ui.canvas.addEventListener("pointercancel", end);
  ui.undo.addEventListener("click", () => { if (history.length) { ctx.putImageData(history.pop(), 0, 0); render(); } });
  ui.clear.addEventListener("click", () => { history.push(ctx.getImageData(0, 0, SIZE, SIZE)); blank(); render(); });
  ui.withBends.addEventListener("change", render);
  ui.keep.addEventListener("click", async () => {
    if (!ui.models.value) return;
    try {
      const kept = await api("/api/sketch/keep", sketchBody());
      ui.status.replaceChildren("kept ", element("a", { href: `/api/files/${kept.png}`, target: "_blank" }, kept.png),
        " (its recipe carries the drawing)");
      ui.keep.dataset.kept = kept.png;
    } catch (error) {
      ui.status.textContent = error.message;
    }
  });
  ui.models.addEventListener("change", render);
  ui.project.addEventListener("click", async () => {
    if (!ui.generators.value) return;
    ui.project.disabled = true;
    try {
      let job = await api("/api/sketch/project", { model: ui.generators.value, picture: ui.canvas.toDataURL("image/png") });
      while (job.state === "running") {
        ui.status.textContent = `projecting: ${job.message}`;
        await new Promise((done) => setTimeout(done, 250));
        job = await api(`/api/jobs/${job.id}`);
      }
      if (job.state !== "done") throw new Error(job.error || job.message);
      ui.status.replaceChildren("projected (", element("a", { href: `/api/files/${job.result.file}`, target: "_blank" },
        job.result.file), `, pixel MSE ${job.result.pixel_mse.toFixed(4)}); opened in the explorer`);
      ui.project.dataset.projected = job.result.file;
      if (window.studio) window.studio.open(job.result.state);
    } catch (error) {
      ui.status.textContent = error.message;
    } finally {
      ui.project.disabled = false;
    }
  });
  ui.canvas.addEventListener("dragover", (event) => event.preventDefault());
  ui.canvas.addEventListener("drop", async (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (!file) return;
    const picture = await createImageBitmap(file).catch(() => null);
    if (!picture) { ui.status.textContent = `${file.name} is not a picture the browser can read`; return; }
    history.push(ctx.getImageData(0, 0, SIZE, SIZE));
    blank();
    const scale = Math.max(SIZE / picture.width, SIZE / picture.height);
    const w = picture.width * scale;
    const h = picture.height * scale;
    ctx.drawImage(picture, (SIZE - w) / 2, (SIZE - h) / 2, w, h);
    render();
  });

  api("/api/models").then(({ models }) => {
    for (const m of models.filter((m) => m.translation)) {
      ui.models.append(element("option", { value: m.id, selected: m.name === DEFAULT_MODEL }, m.name));
    }
    for (const m of models.filter((m) => m.usable)) {
      ui.generators.append(element("option", { value: m.id }, m.name));
    }
    if (!ui.models.options.length) ui.status.textContent = "no translation model in the studio's folders";
  }).catch((error) => { ui.status.textContent = error.message; });
}

start();
