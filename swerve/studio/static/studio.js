// swerve studio: the page. Every control edits `state`; every change asks the server for a new picture.
// No framework and no build step: plain DOM, fetch and EventSource.

const $ = (id) => document.getElementById(id);
const PCA_SLIDERS = 6;

const state = {
  model: null,
  latent: { seed: 0, toward: null, t: 0 },
  label: null,
  pca: null,
  bends: [],
  blend: null,
  glitch: null,
  creative: null,
};
let info = null; // the current model's layers, classes, transforms, blend partners
let bSeed = null;
let pcaAmounts = new Array(PCA_SLIDERS).fill(0);
let blendAlpha = 0.5;

// ---------------------------------------------------------------- talking to the server
// The server writes its token into the page; every API request carries it, so no other site can use the API.
const TOKEN = document.querySelector('meta[name="swerve-token"]').content;

// A GET the browser makes without a script (a link, a picture, an event stream) carries the token in its URL.
function withToken(path) {
  return `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(TOKEN)}`;
}

function fileUrl(name) {
  return withToken(`/api/files/${encodeURIComponent(name)}`);
}

async function api(path, body, kind = "application/json") {
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

function say(message, error = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", error);
}

function requestState() {
  const copy = JSON.parse(JSON.stringify(state));
  if (copy.pca && !copy.pca.layer) copy.pca = null;
  return copy;
}

// One picture request in flight at a time; a change made meanwhile is drawn as soon as it returns.
let drawing = false;
let again = false;
async function draw() {
  if (!state.model) return;
  if (drawing) { again = true; return; }
  drawing = true;
  const started = performance.now();
  try {
    const sent = requestState();
    document.dispatchEvent(new CustomEvent("swerve:state", { detail: sent }));  // the sketch pad's bends
    const blob = await api("/api/render", sent);
    const image = $("image");
    const old = image.src;
    image.src = URL.createObjectURL(blob);
    await image.decode().catch(() => {});
    if (old) URL.revokeObjectURL(old);
    image.dataset.renders = String(Number(image.dataset.renders) + 1);
    say(`drawn in ${Math.round(performance.now() - started)} ms`);
    if ($("measure-auto").checked) measure();
  } catch (error) {
    say(error.message, true);
  } finally {
    drawing = false;
    if (again) { again = false; draw(); }
  }
}

// ---------------------------------------------------------------- models
async function loadModels(current = null) {
  const { models, start } = await api("/api/models");
  const select = $("model");
  select.innerHTML = "";
  for (const m of models) {
    const folder = m.source === "zoo" ? "zoo" : m.id.split("/").slice(-2, -1)[0] + "/";
    const option = new Option(`${m.name}  (${folder})`, m.id);
    option.disabled = !m.usable;
    option.title = m.why_not || m.id;
    select.append(option);
  }
  if (current) {  // the list was refreshed (a new model was made): keep what is on the page
    select.value = current;
    return;
  }
  const first = start || (models.find((m) => m.usable) || {}).id;
  if (first) await pickModel(first);
}

async function pickModel(id, keep = null) {
  info = await api(`/api/model?id=${encodeURIComponent(id)}`);
  state.model = info.id;
  $("model").value = info.id;
  const labels = $("label");
  labels.innerHTML = "";
  info.classes.forEach((name, i) => labels.append(new Option(name, String(i))));
  $("label-box").hidden = info.classes.length === 0;
  state.label = info.classes.length ? 0 : null;
  const layerSelect = $("pca-layer");
  layerSelect.innerHTML = '<option value="">off</option>';
  for (const layer of info.layers) layerSelect.append(new Option(`${layer.name}  [${layer.shape}]`, layer.name));
  fillPartners();
  $("pivot").max = String(Math.max(0, info.blend_layers.length - 1));
  const glitchLayers = $("glitch-layer");
  glitchLayers.innerHTML = '<option value="">all</option>';
  for (const name of info.blend_layers) glitchLayers.append(new Option(name, name));
  const targets = $("refine-target");
  targets.innerHTML = "";
  info.classes.forEach((name, i) => targets.append(new Option(name, String(i))));
  const creativeLayers = $("creative-layer");
  creativeLayers.innerHTML = "";
  for (const l of info.layers.filter((l) => l.shortcut.startsWith("conv"))) {
    creativeLayers.append(new Option(`${l.name} (${l.shortcut})`, l.name));
  }
  const rewriteLayers = $("rewrite-layer");
  rewriteLayers.innerHTML = "";
  for (const l of info.layers.filter((l) => l.shortcut.startsWith("conv"))) {
    rewriteLayers.append(new Option(`${l.name} (${l.shortcut})`, l.name));
  }
  $("bend-missing").hidden = info.transforms.length > 0;
  $("add-bend").disabled = info.transforms.length === 0;
  if (keep) {
    applyState(keep);
  } else {
    state.pca = null; state.bends = []; state.blend = null; state.glitch = null; state.creative = null;
    pcaAmounts.fill(0);
    syncControls();
  }
  updateSweepTargets();
  await draw();
  showSource();
}

function fillPartners() {
  const partners = $("blend-with");
  const current = partners.value;
  partners.innerHTML = '<option value="">nothing</option>';
  for (const p of info.blend_partners) {
    const option = new Option(p.name, p.id);
    option.title = p.id;
    partners.append(option);
  }
  partners.value = [...partners.options].some((o) => o.value === current) ? current : "";
  $("blend-none").hidden = info.blend_partners.length > 0;
  partners.disabled = info.blend_partners.length === 0;
}

// ---------------------------------------------------------------- controls -> state
function bindSlider(input, onValue) {
  const output = input.parentElement.querySelector("output");
  input.addEventListener("input", () => {
    if (output) output.textContent = input.value;
    onValue(Number(input.value));
    draw();
  });
}

function syncControls() {
  $("seed").value = state.latent.seed;
  $("label").value = state.label === null ? "" : String(state.label);
  $("t").disabled = state.latent.toward === null;
  $("t").value = state.latent.t;
  $("b-seed").textContent = state.latent.toward === null ? "no B yet" : `B = seed ${state.latent.toward}`;
  $("pca-layer").value = state.pca ? state.pca.layer : "";
  $("pca-apply").value = state.pca ? state.pca.apply : "latent";
  buildPcaSliders();
  $("blend-with").value = state.blend ? state.blend.with : "";
  $("blend-schedule").checked = Boolean(state.blend && state.blend.schedule);
  $("schedule-box").hidden = !$("blend-schedule").checked;
  $("alpha").value = state.blend ? state.blend.alpha : blendAlpha;
  $("glitch-kind").value = state.glitch ? state.glitch.kind : "";
  $("glitch-layer").value = state.glitch && state.glitch.layers.length ? state.glitch.layers[0] : "";
  $("glitch-seed").value = state.glitch ? state.glitch.seed : 0;
  if (state.glitch) $("glitch-amount").value = state.glitch.amount;
  $("creative-on").checked = Boolean(state.creative);
  if (state.creative) {
    for (const key of ["layer", "seed", "fraction", "strength", "top"]) $(`creative-${key}`).value = state.creative[key];
  }
  buildBends();
  for (const out of document.querySelectorAll("label.slider > output")) {
    out.textContent = out.parentElement.querySelector("input").value;
  }
}

function applyState(loaded) {
  state.latent = { seed: 0, toward: null, t: 0, ...loaded.latent };
  state.label = loaded.label ?? (info.classes.length ? 0 : null);
  state.pca = loaded.pca || null;
  pcaAmounts = new Array(PCA_SLIDERS).fill(0);
  if (state.pca) state.pca.amounts.forEach((a, i) => { pcaAmounts[i] = a; });
  state.bends = loaded.bends || [];
  state.blend = loaded.blend || null;
  state.glitch = loaded.glitch || null;
  state.creative = loaded.creative || null;
  bSeed = state.latent.toward;
  syncControls();
}

function setupLatent() {
  $("seed").addEventListener("change", () => {
    state.latent.seed = Math.max(0, Math.floor(Number($("seed").value) || 0));
    state.latent.z = undefined;
    draw();
  });
  $("random").addEventListener("click", () => {
    state.latent.seed = Math.floor(Math.random() * 2 ** 31);
    state.latent.z = undefined;
    syncControls();
    draw();
  });
  $("pick-b").addEventListener("click", () => {
    bSeed = state.latent.seed;
    state.latent.toward = bSeed;
    state.latent.t = 0;
    syncControls();
  });
  bindSlider($("t"), (v) => { state.latent.t = v; });
  $("label").addEventListener("change", () => { state.label = Number($("label").value); draw(); });
  $("model").addEventListener("change", () => pickModel($("model").value).catch((e) => say(e.message, true)));
  $("show-grid").addEventListener("click", showGrid);
  $("close-grid").addEventListener("click", () => { $("grid-box").hidden = true; });
  $("grid").addEventListener("click", (event) => {
    const grid = $("grid");
    const count = gridStates ? gridStates.length : 9;
    const side = Math.ceil(Math.sqrt(count));
    const rows = Math.ceil(count / side);
    const col = Math.floor((event.offsetX / grid.clientWidth) * side);
    const row = Math.floor((event.offsetY / grid.clientHeight) * rows);
    const index = row * side + col;
    if (index >= count) return;
    if (gridStates) applyState(gridStates[index]);
    else state.latent.seed += index;
    syncControls();
    $("grid-box").hidden = true;
    draw();
  });
}

// The grid shows nine seeds from this one, or (gridStates set) what a novelty search found.
let gridStates = null;

// Each tile of a grid at least 96 pixels wide; the box scrolls when the page is narrower.
function sizeGrid(columns) {
  $("grid").style.minWidth = `${columns * 96}px`;
}

async function showGrid() {
  try {
    const blob = await api("/api/grid", { state: requestState(), n: 9 });
    gridStates = null;
    $("grid").src = URL.createObjectURL(blob);
    sizeGrid(3);
    $("grid-box").hidden = false;
  } catch (error) { say(error.message, true); }
}

// ---------------------------------------------------------------- novelty search (a background job)
function setupNovelty() {
  $("novelty-btn").addEventListener("click", async () => {
    const request = {
      state: requestState(),
      method: $("novelty-method").value,
      budget: Number($("novelty-budget").value),
      quality: $("novelty-quality").value,
    };
    request.population = Math.min(50, request.budget);
    try {
      follow(await api("/api/novelty", request), $("novelty-btn"), (result) => {
        gridStates = result.states;
        $("grid").src = fileUrl(result.file);
        sizeGrid(result.columns || Math.ceil(Math.sqrt(result.states.length)));
        $("grid-box").hidden = false;
        $("novelty-status").innerHTML = `found ${result.states.length}: click one in the grid to open it
          (<a href="${fileUrl(result.file)}" download>${result.file}</a>)`;
      });
    } catch (error) { $("novelty-status").textContent = error.message; }
  });
}

// ---------------------------------------------------------------- GANSpace sliders
async function buildPcaSliders() {
  const box = $("pca-sliders");
  box.innerHTML = "";
  if (!state.pca) return;
  let explained = [];
  try {
    explained = (await api("/api/directions", { model: state.model, layer: state.pca.layer, k: 8 })).explained;
  } catch (error) { say(error.message, true); return; }
  for (let i = 0; i < PCA_SLIDERS; i++) {
    const label = document.createElement("label");
    label.className = "slider";
    const pct = explained[i] === undefined ? "" : ` (${(100 * explained[i]).toFixed(0)}%)`;
    label.innerHTML = `<span>PC ${i + 1}${pct}</span>
      <input type="range" min="-5" max="5" step="0.05" value="${pcaAmounts[i]}" data-pc="${i}">
      <output>${pcaAmounts[i]}</output>`;
    box.append(label);
    bindSlider(label.querySelector("input"), (v) => { pcaAmounts[i] = v; state.pca.amounts = [...pcaAmounts]; });
  }
}

function setupPca() {
  const changed = () => {
    const layer = $("pca-layer").value;
    state.pca = layer ? { layer, apply: $("pca-apply").value, amounts: [...pcaAmounts], k: 8 } : null;
    buildPcaSliders();
    updateSweepTargets();
    draw();
  };
  $("pca-layer").addEventListener("change", changed);
  $("pca-apply").addEventListener("change", changed);
  $("pca-reset").addEventListener("click", () => { pcaAmounts.fill(0); changed(); });
}

// ---------------------------------------------------------------- bends
function transformOf(name) { return info.transforms.find((t) => t.name === name); }

function newBend() {
  const transform = transformOf("multiply") || info.transforms[0];
  const convLayer = info.layers.find((l) => l.shortcut.startsWith("conv")) || info.layers[0];
  const params = {};
  for (const [key, p] of Object.entries(transform.params)) params[key] = p.default;
  return { layer: convLayer.name, transform: transform.name, params, channels: "all" };
}

function buildBends() {
  const box = $("bends");
  box.innerHTML = "";
  state.bends.forEach((bend, index) => box.append(bendCard(bend, index)));
}

function bendCard(bend, index) {
  const card = document.createElement("div");
  card.className = "bend";
  card.dataset.index = String(index);
  const title = document.createElement("div");
  title.className = "title";
  title.innerHTML = `<strong>bend ${index + 1}</strong>`;
  for (const [text, move] of [["↑", -1], ["↓", 1]]) {
    const button = document.createElement("button");
    button.textContent = text;
    button.title = move < 0 ? "apply earlier" : "apply later";
    button.disabled = index + move < 0 || index + move >= state.bends.length;
    button.addEventListener("click", () => {
      const [item] = state.bends.splice(index, 1);
      state.bends.splice(index + move, 0, item);
      buildBends(); updateSweepTargets(); draw();
    });
    title.append(button);
  }
  const remove = document.createElement("button");
  remove.textContent = "remove";
  remove.addEventListener("click", () => {
    state.bends.splice(index, 1);
    buildBends(); updateSweepTargets(); draw();
  });
  title.append(remove);
  card.append(title);

  const row = document.createElement("div");
  row.className = "row";
  const layer = document.createElement("select");
  for (const l of info.layers) {
    const shortcut = l.shortcut ? ` (${l.shortcut})` : "";
    layer.append(new Option(`${l.name}${shortcut} [${l.shape}]`, l.name));
  }
  layer.value = bend.layer;
  layer.className = "bend-layer";
  layer.addEventListener("change", () => { bend.layer = layer.value; buildBends(); draw(); });
  const transform = document.createElement("select");
  for (const t of info.transforms) transform.append(new Option(t.name, t.name));
  transform.value = bend.transform;
  transform.className = "bend-transform";
  transform.addEventListener("change", () => {
    bend.transform = transform.value;
    bend.params = {};
    for (const [key, p] of Object.entries(transformOf(bend.transform).params)) bend.params[key] = p.default;
    buildBends(); updateSweepTargets(); draw();
  });
  row.append(layer, transform);
  card.append(row);

  for (const [key, p] of Object.entries(transformOf(bend.transform).params)) card.append(paramControl(bend, key, p));
  card.append(channelControl(bend));
  return card;
}

function paramControl(bend, key, p) {
  const label = document.createElement("label");
  label.className = "slider";
  label.title = p.help || "";
  const value = bend.params[key] ?? p.default;
  if (p.kind === "bool") {
    label.innerHTML = `<span>${key}</span><input type="checkbox" ${value ? "checked" : ""}><output></output>`;
    label.querySelector("input").addEventListener("change", (e) => { bend.params[key] = e.target.checked; draw(); });
    return label;
  }
  if (p.kind === "choice") {
    const options = (p.choices || []).map((c) => `<option ${c === value ? "selected" : ""}>${c}</option>`);
    label.innerHTML = `<span>${key}</span><select>${options.join("")}</select><output></output>`;
    label.querySelector("select").addEventListener("change", (e) => { bend.params[key] = e.target.value; draw(); });
    return label;
  }
  const step = p.kind === "int" ? 1 : (p.high - p.low) / 200;
  label.innerHTML = `<span>${key}</span>
    <input type="range" class="bend-param" data-param="${key}" min="${p.low}" max="${p.high}" step="${step}"
      value="${value}"><output>${value}</output>`;
  bindSlider(label.querySelector("input"), (v) => { bend.params[key] = p.kind === "int" ? Math.round(v) : v; });
  return label;
}

function channelControl(bend) {
  const wrap = document.createElement("div");
  const row = document.createElement("div");
  row.className = "row";
  const kind = document.createElement("select");
  kind.append(new Option("all channels", "all"), new Option("a random fraction", "fraction"));
  if (info.has_clusters.includes(bend.layer)) kind.append(new Option("a cluster", "cluster"));
  const current = typeof bend.channels === "object" && bend.channels !== null
    ? ("cluster" in bend.channels ? "cluster" : "fraction") : "all";
  kind.value = current;
  kind.addEventListener("change", () => {
    bend.channels = kind.value === "all" ? "all"
      : kind.value === "fraction" ? { fraction: 0.5, seed: 0 } : { cluster: 0 };
    buildBends(); draw();
  });
  row.append(kind);
  wrap.append(row);
  if (current === "fraction") {
    const label = document.createElement("label");
    label.className = "slider";
    label.innerHTML = `<span>fraction</span><input type="range" min="0.01" max="1" step="0.01"
      value="${bend.channels.fraction}"><output>${bend.channels.fraction}</output>`;
    bindSlider(label.querySelector("input"), (v) => { bend.channels.fraction = v; });
    wrap.append(label);
  } else if (current === "cluster") {
    const label = document.createElement("label");
    label.className = "slider";
    label.innerHTML = `<span>cluster</span><input type="number" min="0" max="63" value="${bend.channels.cluster}">
      <output></output>`;
    label.querySelector("input").addEventListener("change", (e) => {
      bend.channels.cluster = Number(e.target.value); draw();
    });
    wrap.append(label);
  }
  return wrap;
}

function setupBends() {
  $("add-bend").addEventListener("click", () => {
    state.bends.push(newBend());
    buildBends(); updateSweepTargets(); draw();
  });
}

// ---------------------------------------------------------------- blend
function setupBlend() {
  const changed = () => {
    const partner = $("blend-with").value;
    $("schedule-box").hidden = !$("blend-schedule").checked;
    state.blend = partner ? {
      with: partner,
      alpha: blendAlpha,
      schedule: $("blend-schedule").checked
        ? { pivot: Number($("pivot").value), width: Number($("width").value), hard: false } : null,
    } : null;
    showPivot();
    updateSweepTargets();
    draw();
  };
  $("blend-with").addEventListener("change", changed);
  $("blend-schedule").addEventListener("change", changed);
  bindSlider($("alpha"), (v) => { blendAlpha = v; if (state.blend) state.blend.alpha = v; });
  for (const id of ["pivot", "width"]) {
    $(id).addEventListener("change", changed);
    $(id).addEventListener("input", () => {
      $(id).parentElement.querySelector("output").textContent = $(id).value;
      showPivot();
    });
  }
}

function showPivot() {
  const layers = info ? info.blend_layers : [];
  const at = Math.round(Number($("pivot").value));
  $("pivot-layer").textContent = layers.length
    ? `coarse ${layers.slice(0, at).join(", ") || "(none)"} from this model; ${layers.slice(at).join(", ")} from the other`
    : "";
}

// ---------------------------------------------------------------- glitch
function setupGlitch() {
  const changed = () => {
    const kind = $("glitch-kind").value;
    $("glitch-amount").max = kind === "gaussian" ? "2" : "1";
    const layer = $("glitch-layer").value;
    state.glitch = kind ? {
      kind,
      amount: Number($("glitch-amount").value),
      layers: layer ? [layer] : [],
      seed: Math.max(0, Math.floor(Number($("glitch-seed").value) || 0)),
    } : null;
    updateSweepTargets();
    draw();
  };
  for (const id of ["glitch-kind", "glitch-layer", "glitch-seed"]) $(id).addEventListener("change", changed);
  bindSlider($("glitch-amount"), (v) => { if (state.glitch) state.glitch.amount = v; });
}

// ---------------------------------------------------------------- refine (DGflow, DDLS, DOT)
let beforeRefine = null;

function setupRefine() {
  $("refine-critic").addEventListener("change", () => {
    $("refine-target-box").hidden = $("refine-critic").value !== "class";
  });
  // each method starts at its paper's number of steps; DGflow alone has a divergence and a reverse
  const STEPS = { dgflow: 25, ddls: 100, dot: 10 };
  $("refine-method").addEventListener("change", () => {
    const method = $("refine-method").value;
    $("refine-steps").value = STEPS[method];
    for (const el of document.querySelectorAll("#refine-panel .dgflow-only")) el.hidden = method !== "dgflow";
  });
  $("refine-btn").addEventListener("click", async () => {
    const method = $("refine-method").value;
    const request = {
      state: requestState(),
      method,
      critic: $("refine-critic").value,
      steps: Number($("refine-steps").value),
    };
    if (method === "dgflow") {
      request.divergence = $("refine-divergence").value;
      request.reverse = $("refine-reverse").checked;
    }
    if (request.critic === "class" && $("refine-target").value !== "") request.target = Number($("refine-target").value);
    $("refine-btn").disabled = true;
    try {
      const answer = await api("/api/refine", request);
      beforeRefine = requestState();
      applyState(answer.state);
      $("refine-undo").disabled = false;
      const r = answer.refined;
      $("refine-status").textContent = `${r.method}, ${r.params.steps} steps against ${r.critic}: ${r.seconds} s`;
      await draw();
    } catch (error) {
      $("refine-status").textContent = error.message;
    } finally {
      $("refine-btn").disabled = false;
    }
  });
  $("refine-undo").addEventListener("click", () => {
    if (!beforeRefine) return;
    applyState(beforeRefine);
    beforeRefine = null;
    $("refine-undo").disabled = true;
    $("refine-status").textContent = "";
    draw();
  });
}

// ---------------------------------------------------------------- creative decoder
function setupCreative() {
  const read = () => ({
    layer: $("creative-layer").value,
    seed: Math.max(0, Math.floor(Number($("creative-seed").value) || 0)),
    fraction: Number($("creative-fraction").value),
    strength: Number($("creative-strength").value),
    top: Number($("creative-top").value),
  });
  const changed = () => {
    state.creative = $("creative-on").checked ? read() : null;
    updateSweepTargets();
    draw();
  };
  for (const id of ["creative-on", "creative-layer", "creative-seed"]) $(id).addEventListener("change", changed);
  for (const key of ["fraction", "strength", "top"]) {
    bindSlider($(`creative-${key}`), () => { if (state.creative) state.creative = read(); });
  }
}

// ---------------------------------------------------------------- keep and load
function setupKeep() {
  $("keep-btn").addEventListener("click", async () => {
    try {
      const kept = await api("/api/keep", requestState());
      const item = document.createElement("li");
      item.innerHTML = `<a href="${fileUrl(kept.png)}" download>${kept.png}</a>
        + <a href="${fileUrl(kept.json)}" download>recipe</a>`;
      $("kept").prepend(item);
      say(`kept ${kept.png}`);
    } catch (error) { say(error.message, true); }
  });
  $("load").addEventListener("change", async () => {
    const file = $("load").files[0];
    if (!file) return;
    try {
      const loaded = await api("/api/load", await file.arrayBuffer(), "application/octet-stream");
      await pickModel(loaded.state.model, loaded.state);
      say(`loaded ${file.name}`);
    } catch (error) { say(error.message, true); }
    $("load").value = "";
  });
}

// ---------------------------------------------------------------- measure
const MEASURE_LABELS = {
  novelty: ["novelty", "distance to the 3 nearest real images, relative to real-to-real (1 = as far as data is)"],
  density: ["density", "share of real images' 5-NN balls holding it (about 1 = like the data, 0 = off it)"],
  class: ["seen as", "the class the domain classifier sees"],
  confidence: ["confidence", "the classifier's probability for that class"],
  agrees: ["agrees", "the class seen is the class asked for"],
  critic: ["critic", "the model's own discriminator logit (higher = more real to it)"],
  scan: ["scan", "Berk-Jones subset-scan score of the layer's activations against ordinary pictures"],
  scan_unedited: ["scan, no edits", "the same score for this latent drawn without any edit"],
  scan_share: ["scan subset", "share of the layer's nodes in the most anomalous subset"],
  scan_alpha: ["scan α*", "the p-value threshold that subset was found at"],
};

// What a measure's value means, in words (the row's hover gives the definition).
function measureInWords(key, value, values) {
  if (value === null || value === undefined) return "not measured (see the note below)";
  if (key === "novelty") {
    return value > 1.2 ? "further from the data than real images are" : value < 0.8 ? "close to real images" : "about as near the data as real images";
  }
  if (key === "density") return value >= 0.8 ? "where real images are" : value >= 0.3 ? "at the edge of the data" : "off the data";
  if (key === "critic") return value > 0 ? "looks real to the model" : "looks made up to the model";
  if (key === "agrees") return value ? "the class asked for" : "not the class asked for";
  if (key === "scan" && typeof values.scan_unedited === "number" && values.scan_unedited > 0) {
    const ratio = value / values.scan_unedited;
    return ratio > 1.1 ? `${ratio.toFixed(1)}× as unusual inside as without edits` : "as usual inside as without edits";
  }
  if (key === "scan_share") return `${Math.round(value * 100)}% of the layer stands out`;
  return "";
}

async function measure() {
  try {
    const result = await api("/api/measure", requestState());
    const table = $("measures");
    table.innerHTML = "";
    for (const [key, value] of Object.entries(result.values)) {
      const [name, help] = MEASURE_LABELS[key] || [key, ""];
      const row = table.insertRow();
      row.title = help;
      const label = row.insertCell();
      label.textContent = name;
      label.className = "defined";
      row.insertCell().textContent = value === null ? "–" : typeof value === "number" ? value.toFixed(3) : String(value);
      row.insertCell().textContent = measureInWords(key, value, result.values);
    }
    const notes = [...result.notes, `scan at ${result.scan.layer} against ${result.scan.background_n} pictures`];
    if (result.features) {
      notes.unshift(`${result.features.extractor} features; ${result.reference.n} real ${result.reference.dataset} images`);
    }
    $("measure-note").textContent = notes.join("; ");
  } catch (error) {
    $("measures").innerHTML = "";
    $("measure-note").textContent = error.message;
  }
}

// ---------------------------------------------------------------- exports (background jobs)
function updateSweepTargets() {
  const select = $("sweep-target");
  const old = select.value;
  select.innerHTML = "";
  if (state.pca) {
    for (let i = 0; i < PCA_SLIDERS; i++) select.append(new Option(`PC ${i + 1}`, JSON.stringify({ target: "pca", index: i })));
  }
  state.bends.forEach((bend, b) => {
    for (const [param, p] of Object.entries(transformOf(bend.transform)?.params || {})) {
      if (p.kind === "float" || p.kind === "int") {
        select.append(new Option(`bend ${b + 1}: ${param}`, JSON.stringify({ target: "bend", bend: b, param })));
      }
    }
  });
  if (state.blend) select.append(new Option("blend α", JSON.stringify({ target: "blend" })));
  if (state.glitch) select.append(new Option("glitch amount", JSON.stringify({ target: "glitch" })));
  if (state.creative) select.append(new Option("creative strength", JSON.stringify({ target: "creative" })));
  if ([...select.options].some((o) => o.value === old)) select.value = old;
}

function setupExport() {
  $("export-kind").addEventListener("change", () => { $("sweep-box").hidden = $("export-kind").value !== "sweep"; });
  $("export-btn").addEventListener("click", async () => {
    const request = {
      state: requestState(),
      kind: $("export-kind").value,
      format: $("export-format").value,
      frames: Number($("export-frames").value),
    };
    if (request.kind === "sweep") {
      if (!$("sweep-target").value) { say("turn on a principal direction, a bend or a blend to sweep", true); return; }
      request.sweep = { ...JSON.parse($("sweep-target").value),
        low: Number($("sweep-low").value), high: Number($("sweep-high").value) };
    }
    try { follow(await api("/api/jobs", request), $("export-btn"), exported); } catch (error) { say(error.message, true); }
  });
}

function follow(job, button, onDone) {
  const cancel = $("cancel-btn");
  cancel.disabled = false;
  cancel.onclick = () => api(`/api/jobs/${job.id}/cancel`, {}).catch((e) => say(e.message, true));
  button.disabled = true;
  const events = new EventSource(withToken(`/api/jobs/${job.id}/events`));
  const finish = () => { events.close(); cancel.disabled = true; button.disabled = false; };
  events.addEventListener("progress", (event) => {
    const snap = JSON.parse(event.data);
    $("progress").max = Math.max(1, snap.total);
    $("progress").value = snap.done;
    $("job-status").textContent = `${snap.kind}: ${snap.error || snap.message}`;
    if (snap.state !== "running") {
      finish();
      if (snap.state === "done") onDone(snap.result);
    }
  });
  events.onerror = finish;
}

function exported(result) {
  const item = document.createElement("li");
  item.innerHTML = `<a href="${fileUrl(result.file)}" download>${result.file}</a>`;
  $("exports").prepend(item);
}

// A background job made a new model: list it, offer it as a blend partner, and a button to open it.
async function madeModel(result, status, detail = "") {
  await loadModels(state.model);
  info = await api(`/api/model?id=${encodeURIComponent(state.model)}`);
  fillPartners();
  status.textContent = `${result.name}${detail} `;
  const open = document.createElement("button");
  open.textContent = "open it";
  open.addEventListener("click", () => pickModel(result.bundle).catch((e) => say(e.message, true)));
  status.append(open);
}

// ---------------------------------------------------------------- fine-tune (a background job)
function setupFinetune() {
  const method = $("finetune-method");
  const showFields = () => {
    $("finetune-away-box").hidden = method.value !== "guided";
    $("finetune-data-box").hidden = !["cross-domain", "domain-shift"].includes(method.value);
    $("finetune-text-box").hidden = method.value !== "nada";
  };
  method.addEventListener("change", showFields);
  showFields();
  $("finetune-btn").addEventListener("click", async () => {
    const request = {
      state: requestState(),
      method: method.value,
      steps: Number($("finetune-steps").value),
      lr: Number($("finetune-lr").value),
      away: $("finetune-away").checked,
    };
    if (!$("finetune-data-box").hidden) {
      request.dataset = $("finetune-dataset").value;
      const classes = $("finetune-classes").value.split(",").map((c) => c.trim()).filter((c) => c);
      if (classes.length) request.classes = classes.map(Number);
    }
    if (method.value === "nada") {
      request.source = $("finetune-source").value;
      request.text = $("finetune-text").value;
    }
    try {
      follow(await api("/api/finetune", request), $("finetune-btn"), (result) =>
        madeModel(result, $("finetune-status"), ` (${result.steps} steps)`));
    } catch (error) { $("finetune-status").textContent = error.message; }
  });
}

// ---------------------------------------------------------------- train from a recipe (a background job)
function setupTrain() {
  const recipe = $("train-recipe");
  const showClasses = () => { $("train-classes-box").hidden = recipe.value === "nodata-gan"; };
  recipe.addEventListener("change", showClasses);
  showClasses();
  $("train-btn").addEventListener("click", async () => {
    const request = {
      recipe: recipe.value,
      steps: Number($("train-steps").value),
      seed: Number($("train-seed").value),
    };
    const classes = $("train-classes").value.split(",").map((c) => c.trim()).filter((c) => c);
    if (classes.length && recipe.value !== "nodata-gan") request.classes = classes.map(Number);
    try {
      follow(await api("/api/train", request), $("train-btn"), (result) =>
        madeModel(result, $("train-status"), ` (${result.steps} steps)`));
    } catch (error) { $("train-status").textContent = error.message; }
  });
}

// ---------------------------------------------------------------- rewrite (a background job)
const REGION = ["top", "left", "bottom", "right"];

function region() {
  return Object.fromEntries(REGION.map((side) => [side, Number($(`region-${side}`).value)]));
}

async function showSource() {
  const r = region();
  Object.assign($("region-box").style, {
    top: `${100 * r.top}%`, left: `${100 * r.left}%`,
    height: `${100 * Math.max(0, r.bottom - r.top)}%`, width: `${100 * Math.max(0, r.right - r.left)}%`,
  });
  if (!state.model || $("rewrite-panel").open === false) return;
  try {
    const source = { model: state.model, latent: { seed: Number($("rewrite-source").value) }, label: state.label };
    const blob = await api("/api/render", source);
    const preview = $("rewrite-preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(blob);
  } catch (error) { $("rewrite-status").textContent = error.message; }
}

function setupRewrite() {
  for (const side of REGION) {
    const input = $(`region-${side}`);
    input.addEventListener("input", () => {
      input.parentElement.querySelector("output").textContent = input.value;
      showSource();
    });
  }
  $("rewrite-source").addEventListener("change", showSource);
  $("rewrite-panel").addEventListener("toggle", showSource);
  $("rewrite-btn").addEventListener("click", async () => {
    const request = {
      state: requestState(),
      layer: $("rewrite-layer").value,
      source: Number($("rewrite-source").value),
      rank: Number($("rewrite-rank").value),
      region: region(),
    };
    try {
      follow(await api("/api/rewrite", request), $("rewrite-btn"), (result) =>
        madeModel(result, $("rewrite-status"), ` (residual ${result.residual.toFixed(3)})`));
    } catch (error) { $("rewrite-status").textContent = error.message; }
  });
}

// ---------------------------------------------------------------- start
setupLatent();
setupPca();
setupBends();
setupBlend();
setupGlitch();
setupCreative();
setupRewrite();
setupRefine();
setupNovelty();
setupFinetune();
setupTrain();
setupKeep();
setupExport();
$("measure-btn").addEventListener("click", measure);
loadModels().catch((error) => say(error.message, true));
// For tests and the curious: the state, and whether every change has been drawn.
window.studio = { state, draw, idle: () => !drawing && !again, open: (loaded) => pickModel(loaded.model, loaded) };
