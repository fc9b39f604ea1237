// The slice viewer: the classified slice in its own pixel grid (GET /studies/.../slices/..., raw float32) beside
// the same slice with its saliency map (GET /studies/.../maps/...) coloured over it, both with one window/level,
// zoom and pan. Mouse: drag = window (horizontal: width, vertical: level), Shift+drag or the "pan" mode = pan,
// wheel = zoom. Orientation letters come from the answer's display_edges.

import {OPACITY, heatColour} from "./colourbar.js";

const PANE = 360;  // CSS pixels of each square pane
const CACHE_SIZE = 64;  // slices and maps kept in the page (each at most a few MB)

export async function fetchArray(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error((await response.json()).detail || `error ${response.status}`);
  const [rows, cols] = response.headers.get("X-Shape").split(",").map(Number);
  return {rows, cols, data: new Float32Array(await response.arrayBuffer())};  // little-endian, as every browser
}

function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
}

// Window presets as [low, high]: "auto" the slice's 1st to 99th percentile, "brain" W80/L40 for CT and the
// 0.5-99.5 % of the tissue (pixels above a tenth of the 99th percentile) otherwise, "full" min to max.
export function presetWindow(name, data, modality) {
  const sorted = Float32Array.from(data).sort();
  if (name === "full") return [sorted[0], sorted[sorted.length - 1]];
  if (name === "brain" && modality === "CT") return [0, 80];
  if (name === "brain") {
    const floor = sorted[0] + 0.1 * (percentile(sorted, 0.99) - sorted[0]);
    const tissue = sorted.filter((v) => v > floor);
    if (tissue.length) return [percentile(tissue, 0.005), percentile(tissue, 0.995)];
  }
  return [percentile(sorted, 0.01), percentile(sorted, 0.99)];
}

export class Viewer {
  constructor(els) {
    this.els = els;  // {original, overlay, level, width, preset, mode, message, zoomIn, zoomOut, zoomReset}
    this.cache = new Map();
    this.view = {zoom: 1, panX: 0, panY: 0};
    this.window = {level: 0, width: 1};
    this.current = null;  // {image, map} of the slice shown
    this.bindControls();
    for (const canvas of [els.original, els.overlay]) this.bindMouse(canvas.parentElement);
  }

  // A new series: its edges' letters, the window from the preset at the first slice shown, zoom to fit.
  setSeries(studyId, series, modality) {
    Object.assign(this, {studyId, series, modality, needsWindow: true});
    this.view = {zoom: 1, panX: 0, panY: 0};
    for (const canvas of [this.els.original, this.els.overlay]) {
      orientationLabels(canvas.parentElement, series.display_edges);
    }
  }

  async show(k) {
    const slice = this.series.slices[k];
    this.els.message.textContent = "";
    if (!this.studyId || !slice.source_shape) {
      this.current = null;
      this.clear();
      this.els.message.textContent = !this.studyId
        ? "The slices of this study are not kept (too large for the viewer's store)."
        : `Slice ${k + 1} was not classified (${slice.exclusion_reason}): no image.`;
      return;
    }
    try {
      const base = `${this.studyId}/{layer}/${encodeURIComponent(this.series.series_id)}/${k}`;
      const image = await this.load(base.replace("{layer}", "slices"));
      const map = slice.has_map ? await this.load(base.replace("{layer}", "maps")) : null;
      this.current = {image, map};
    } catch (e) {
      this.current = null;
      this.clear();
      this.els.message.textContent = `Slice ${k + 1}: ${e.message}`;
      return;
    }
    if (this.needsWindow) this.applyPreset(this.els.preset.value || "auto");
    this.render();
    this.els.original.dataset.shown = String(k);  // the slice on the canvases (the page's tests wait for it)
  }

  async load(path) {
    if (!this.cache.has(path)) {
      if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value);
      this.cache.set(path, fetchArray(`/studies/${path}`));
    }
    try {
      return await this.cache.get(path);
    } catch (e) {
      this.cache.delete(path);
      throw e;
    }
  }

  applyPreset(name) {
    if (!this.current) return;
    const [low, high] = presetWindow(name, this.current.image.data, this.modality);
    this.setWindow((low + high) / 2, Math.max(high - low, 1e-6));
    this.needsWindow = false;
  }

  setWindow(level, width) {
    this.window = {level, width: Math.max(width, 1e-6)};
    this.els.level.value = Number(level.toPrecision(5));
    this.els.width.value = Number(this.window.width.toPrecision(5));
  }

  clear() {
    for (const canvas of [this.els.original, this.els.overlay]) {
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    }
  }

  // Both canvases at the slice's own size (one canvas pixel per slice pixel); CSS scales and moves them.
  render() {
    if (!this.current) return;
    const {image, map} = this.current;
    const low = this.window.level - this.window.width / 2, scale = 255 / this.window.width;
    for (const [canvas, withMap] of [[this.els.original, false], [this.els.overlay, true]]) {
      canvas.width = image.cols;
      canvas.height = image.rows;
      const context = canvas.getContext("2d");
      const pixels = context.createImageData(image.cols, image.rows), out = pixels.data;
      for (let i = 0; i < image.data.length; i++) {
        const g = Math.min(255, Math.max(0, (image.data[i] - low) * scale));
        out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = g;
        out[4 * i + 3] = 255;
        if (withMap && map) {
          const s = Math.min(1, Math.max(0, map.data[i])), c = heatColour(s), a = OPACITY * s;
          for (let j = 0; j < 3; j++) out[4 * i + j] = (1 - a) * g + a * c[j];
        }
      }
      context.putImageData(pixels, 0, 0);
    }
    this.place();
  }

  place() {
    if (!this.current) return;
    const {rows, cols} = this.current.image;
    const s = (PANE / Math.max(rows, cols)) * this.view.zoom;
    const tx = (PANE - cols * s) / 2 + this.view.panX, ty = (PANE - rows * s) / 2 + this.view.panY;
    for (const canvas of [this.els.original, this.els.overlay]) {
      canvas.style.transform = `translate(${tx.toFixed(1)}px, ${ty.toFixed(1)}px) scale(${s.toFixed(4)})`;
    }
  }

  zoomBy(factor) {
    this.view.zoom = Math.min(32, Math.max(0.25, this.view.zoom * factor));
    this.view.panX *= factor;
    this.view.panY *= factor;
    this.place();
  }

  bindControls() {
    const els = this.els;
    els.preset.addEventListener("change", () => {
      if (!els.preset.value) return;
      this.applyPreset(els.preset.value);
      this.render();
    });
    const typed = () => {
      els.preset.value = "";
      this.setWindow(Number(els.level.value), Number(els.width.value));
      this.render();
    };
    els.level.addEventListener("change", typed);
    els.width.addEventListener("change", typed);
    els.zoomIn.addEventListener("click", () => this.zoomBy(1.25));
    els.zoomOut.addEventListener("click", () => this.zoomBy(0.8));
    els.zoomReset.addEventListener("click", () => { this.view = {zoom: 1, panX: 0, panY: 0}; this.place(); });
  }

  // Drag: horizontal = window width, vertical = level (about the slice's range per pane width), or pan.
  bindMouse(pane) {
    let start = null;
    pane.addEventListener("pointerdown", (e) => {
      if (!this.current) return;
      e.preventDefault();
      const pan = e.shiftKey || this.els.mode.value === "pan";
      start = {x: e.clientX, y: e.clientY, pan, window: {...this.window}, view: {...this.view}};
      pane.setPointerCapture?.(e.pointerId);
    });
    pane.addEventListener("pointermove", (e) => {
      if (!start) return;
      const dx = e.clientX - start.x, dy = e.clientY - start.y;
      if (start.pan) {
        this.view.panX = start.view.panX + dx;
        this.view.panY = start.view.panY + dy;
        return this.place();
      }
      const unit = Math.max(start.window.width, 1e-6) / 100;  // 100 px of drag = the window's width
      this.els.preset.value = "";
      this.setWindow(start.window.level - dy * unit, start.window.width + dx * unit);
      this.render();
    });
    const end = () => { start = null; };
    pane.addEventListener("pointerup", end);
    pane.addEventListener("pointercancel", end);
    const wheel = (e) => { e.preventDefault(); this.zoomBy(e.deltaY < 0 ? 1.1 : 1 / 1.1); };
    pane.addEventListener("wheel", wheel, {passive: false});
  }
}

// The patient direction at each edge of a pane (none for an unknown plane).
function orientationLabels(pane, edges) {
  for (const edge of ["top", "bottom", "left", "right"]) {
    let label = pane.querySelector(`.orient-${edge}`);
    if (!label) {
      label = document.createElement("span");
      label.className = `orient orient-${edge}`;
      pane.appendChild(label);
    }
    label.textContent = edges ? edges[edge] : "";
  }
}
