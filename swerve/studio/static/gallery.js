// The gallery: every picture ever kept, newest first, with filters, compare, re-open and delete with undo.
import { $, api, emit, note, on, withToken } from "./state.js";

const view = { page: 0, perPage: 24, total: 0, chosen: [], lastDeleted: null, loads: 0 };

function filters() {
  const query = new URLSearchParams({ page: view.page, per_page: view.perPage });
  for (const [key, id] of [["model", "gallery-model"], ["method", "gallery-method"], ["session", "gallery-session"]]) {
    if ($(id).value) query.set(key, $(id).value);
  }
  return query;
}

function fillSelect(id, values, label) {
  const select = $(id);
  const current = select.value;
  select.replaceChildren(new Option(`any ${label}`, ""), ...values.map((v) => new Option(String(v), String(v))));
  select.value = values.map(String).includes(current) ? current : "";
}

export async function refresh() {
  try {
    const listing = await api(`/api/gallery?${filters()}`);
    view.total = listing.total;
    const facets = listing.facets || {};
    fillSelect("gallery-model", facets.model || [], "model");
    fillSelect("gallery-method", facets.method || [], "method");
    fillSelect("gallery-session", facets.sessions || [], "session");
    $("gallery-grid").replaceChildren(...listing.pictures.map(card));
    const pages = Math.max(1, Math.ceil(listing.total / view.perPage));
    $("gallery-page").textContent = `page ${view.page + 1} of ${pages} · ${listing.total} kept`;
    $("gallery-prev").disabled = view.page === 0;
    $("gallery-next").disabled = view.page + 1 >= pages;
    view.loads += 1;
    $("gallery-grid").dataset.loads = String(view.loads);
  } catch (error) { note("gallery-status", error.message, true); }
}

function card(picture) {
  const figure = document.createElement("figure");
  figure.dataset.id = picture.id;
  figure.classList.toggle("chosen", view.chosen.includes(picture.id));
  const image = new Image();
  image.src = withToken(picture.thumb);
  image.alt = picture.name;
  image.title = `${picture.name} · ${picture.model} · ${picture.method}`;
  const caption = document.createElement("figcaption");
  caption.textContent = picture.name.replace(/\.png$/, "");
  const buttons = document.createElement("div");
  for (const [label, act] of [["open", reopen], ["compare", choose], ["delete", remove]]) {
    const button = document.createElement("button");
    button.textContent = label;
    button.className = `gallery-${label}`;
    button.addEventListener("click", () => act(picture));
    buttons.append(button);
  }
  figure.append(image, caption, buttons);
  return figure;
}

async function reopen(picture) {
  try {
    const opened = await api(`/api/gallery/${picture.id}/open`);
    await window.studio.open(opened.state);
    note("gallery-status", `opened ${picture.name} in the explorer`);
  } catch (error) { note("gallery-status", error.message, true); }
}

async function choose(picture) {
  view.chosen = [...view.chosen.filter((id) => id !== picture.id), picture.id].slice(-2);
  document.querySelectorAll("#gallery-grid figure").forEach((f) => {
    f.classList.toggle("chosen", view.chosen.includes(Number(f.dataset.id)));
  });
  if (view.chosen.length < 2) {
    note("gallery-status", `${picture.name} chosen: choose another to compare`);
    return;
  }
  try {
    const [a, b] = view.chosen;
    const compared = await api(`/api/gallery/compare?a=${a}&b=${b}`);
    $("compare-a").src = withToken(compared.a.thumb);
    $("compare-b").src = withToken(compared.b.thumb);
    $("compare-a-name").textContent = compared.a.name;
    $("compare-b-name").textContent = compared.b.name;
    const rows = compared.differences.map((d) => {
      const row = document.createElement("tr");
      for (const cell of [d.path, JSON.stringify(d.a), JSON.stringify(d.b)]) {
        const td = document.createElement("td");
        td.textContent = cell.length > 80 ? `${cell.slice(0, 79)}…` : cell;
        row.append(td);
      }
      return row;
    });
    $("compare-differences").replaceChildren(...rows);
    $("compare-same").hidden = rows.length > 0;
    $("gallery-compare").hidden = false;
  } catch (error) { note("gallery-status", error.message, true); }
}

async function remove(picture) {
  try {
    await api(`/api/gallery/${picture.id}/delete`, {});
    view.lastDeleted = picture;
    note("gallery-status", `deleted ${picture.name}`);
    $("gallery-undo").hidden = false;
    await refresh();
  } catch (error) { note("gallery-status", error.message, true); }
}

async function undo() {
  if (!view.lastDeleted) return;
  try {
    await api(`/api/gallery/${view.lastDeleted.id}/undo`, {});
    note("gallery-status", `${view.lastDeleted.name} is back`);
    view.lastDeleted = null;
    $("gallery-undo").hidden = true;
    await refresh();
  } catch (error) { note("gallery-status", error.message, true); }
}

function setup() {
  for (const id of ["gallery-model", "gallery-method", "gallery-session"]) {
    $(id).addEventListener("change", () => { view.page = 0; refresh(); });
  }
  $("gallery-prev").addEventListener("click", () => { view.page = Math.max(0, view.page - 1); refresh(); });
  $("gallery-next").addEventListener("click", () => { view.page += 1; refresh(); });
  $("gallery-undo").addEventListener("click", undo);
  $("gallery-refresh").addEventListener("click", refresh);
  $("compare-close").addEventListener("click", () => { $("gallery-compare").hidden = true; });
  // The explorer lists each picture it keeps: the gallery follows.
  new MutationObserver(() => { refresh(); emit("kept"); }).observe($("kept"), { childList: true });
  on("session", refresh);
  refresh();
}

setup();
window.gallery = { view, refresh };
