// Pictures on the page stay crisp: a picture shown at least twice its own size is enlarged with nearest-
// neighbour pixels (each model pixel a clean square); one shown smaller, or enlarged less than twice (a 256 px
// picture in a 384 px box), is scaled smoothly, as blocky uneven pixels would look worse than a little blur.

export const PIXELATED_FROM = 2; // the enlargement at and above which pixels are drawn as squares

// Whether a picture `natural` pixels wide, shown `shown` CSS pixels wide, is drawn with square pixels.
export function pixelated(natural, shown, ratio = 1) {
  return natural > 0 && shown * ratio >= PIXELATED_FROM * natural;
}

// Set the picture's class from its size now: .pixelated (image-rendering: pixelated) or none (smooth).
export function fit(img) {
  const ratio = globalThis.devicePixelRatio || 1;
  img.classList.toggle("pixelated", pixelated(img.naturalWidth, img.clientWidth, ratio));
}

// Every picture, now and later, is fitted when it loads and when its box changes size.
export function install(root = document) {
  const resized = new ResizeObserver((entries) => entries.forEach((entry) => fit(entry.target)));
  const watch = (img) => { resized.observe(img); if (img.complete) fit(img); };
  root.querySelectorAll("img").forEach(watch);
  root.addEventListener("load", (event) => {
    if (event.target instanceof HTMLImageElement) watch(event.target);
  }, true);
}

if (typeof document !== "undefined") install();
