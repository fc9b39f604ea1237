// The page of monai_tumorcls.app: upload one file to POST /predict and show the answer. No libraries, no
// network access beyond this server (the machines are offline); the probability plot is drawn as inline SVG.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let volume = null;  // the last volume answer: {series: [...]}

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  setStatus("error", "");
}

function probabilityTable(probabilities) {
  const table = $("probabilities");
  table.replaceChildren();
  for (const [name, p] of Object.entries(probabilities || {})) {
    const row = table.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = p.toFixed(4);
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = Math.round(200 * p) + "px";
    row.insertCell().appendChild(bar);
  }
}

function svgElement(name, attributes, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, v);
  parent.appendChild(el);
  return el;
}

// Tumour probability per slice: a line over the slice index, the 0.5 line, contributing slices as dots, and a
// marker at the slice shown in the viewer. Clicking picks a slice.
function drawPlot(series, selected) {
  const width = 640, height = 220, left = 40, right = 10, top = 10, bottom = 30;
  const n = series.slices.length;
  const x = (i) => left + (n > 1 ? (i * (width - left - right)) / (n - 1) : 0);
  const y = (p) => top + (1 - p) * (height - top - bottom);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("id", "slice-plot");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "tumour probability per slice");
  for (const p of [0, 0.5, 1]) {
    svgElement("line", {x1: left, x2: width - right, y1: y(p), y2: y(p), stroke: p === 0.5 ? "#b00020" : "#ccc",
                        "stroke-dasharray": p === 0.5 ? "4 3" : ""}, svg);
    svgElement("text", {x: 4, y: y(p) + 4, "font-size": 11}, svg).textContent = p.toFixed(1);
  }
  svgElement("text", {x: width / 2, y: height - 6, "font-size": 11, "text-anchor": "middle"}, svg).textContent =
    "slice index (tumour probability per slice)";
  const points = series.slices.filter((s) => s.tumour_probability !== null)
    .map((s) => `${x(s.index).toFixed(1)},${y(s.tumour_probability).toFixed(1)}`);
  svgElement("polyline", {points: points.join(" "), fill: "none", stroke: "#4a7bd0", "stroke-width": 1.5}, svg);
  for (const s of series.slices.filter((s) => s.contributing)) {
    svgElement("circle", {cx: x(s.index), cy: y(s.tumour_probability), r: 3.5, fill: "#e08000"}, svg);
  }
  svgElement("line", {id: "plot-cursor", x1: x(selected), x2: x(selected), y1: top, y2: height - bottom,
                      stroke: "#222"}, svg);
  svg.addEventListener("click", (event) => {
    const box = svg.getBoundingClientRect();
    const i = Math.round(((event.clientX - box.left - left) * (n - 1)) / (width - left - right));
    showSlice(Math.min(Math.max(i, 0), n - 1));
  });
  $("plot").replaceChildren(svg);
}

function currentSeries() {
  return volume.series[Number($("series-select").value)];
}

// What the overlays show: the predicted lesion map (outlined in green) of a network with a lesion head, or Grad-CAM.
const OVERLAY_CAPTIONS = {
  lesion: ["predicted lesion (outlined; the cross marks the peak)", "predicted lesion (contributing slice)"],
  grad_cam: ["Grad-CAM of the predicted class (the cross marks the peak)", "Grad-CAM (contributing slice)"],
};

function lesionArea(s) {  // "lesion 81 px = 126.6 mm²" (no mm² without a pixel spacing)
  if (s.lesion_area_px === undefined) return "";
  const mm2 = s.lesion_area_mm2 === null || s.lesion_area_mm2 === undefined ? "" : ` = ${s.lesion_area_mm2.toFixed(1)} mm²`;
  return `, lesion ${s.lesion_area_px} px${mm2}`;
}

function lesionSummary(lesion) {
  if (!lesion) return "";
  const volume = lesion.volume_ml === null ? `${lesion.n_voxels} voxels` : `${lesion.volume_ml.toFixed(2)} ml`;
  const range = lesion.slice_range ? `, slices ${lesion.slice_range[0]}-${lesion.slice_range[1]}` : "";
  const peak = lesion.peak ? `, peak ${lesion.peak.probability.toFixed(2)} on slice ${lesion.peak.slice_index}` : "";
  return `; predicted lesion ${volume}${range}${peak}`;
}

function showSlice(i) {
  const series = currentSeries();
  const s = series.slices[i];
  $("slice-slider").value = i;
  const p = s.tumour_probability === null ? "excluded: " + s.exclusion_reason : "tumour probability " + s.tumour_probability.toFixed(4);
  $("slice-label").textContent = `${i + 1} / ${series.slices.length} (${p}${lesionArea(s)}${s.contributing ? ", contributing" : ""})`;
  $("slice-image").src = s.image || "";
  $("slice-overlay-figure").hidden = !s.overlay;
  $("slice-overlay").src = s.overlay || "";
  drawPlot(series, i);
}

function showNotes(title, notes) {  // what to weigh the decision above against (a tiny image, a resliced series)
  $("warnings").textContent = notes.length ? `${title}: ${notes.join("; ")}` : "";
  $("warnings").hidden = !notes.length;
}

function showSeries(k) {
  const series = volume.series[k];
  const d = series.decision;
  $("decision").textContent = d.predicted_class ?? d.label;
  showNotes("Notes on this series", (series.warnings || []).concat(series.notes));
  probabilityTable(d.class_probabilities);
  $("series-summary").textContent = `series decision: ${d.label}, aggregated tumour probability ` +
    `${d.tumour_probability === null ? "n/a" : d.tumour_probability.toFixed(4)}; ${series.modality || series.source}, ` +
    `${series.n_slices} ${series.slice_plane} slices (${series.n_excluded_slices} excluded)` +
    (series.resliced ? ", resliced" : "") + lesionSummary(series.lesion);
  const slider = $("slice-slider");
  slider.max = series.slices.length - 1;
  showSlice(d.contributing_slices.length ? d.contributing_slices[0] : 0);  // the slice that weighs most
}

function showVolume(answer) {
  volume = answer;
  $("slice-overlay-caption").textContent = OVERLAY_CAPTIONS[answer.saliency_map || "grad_cam"][1];
  const select = $("series-select");
  select.replaceChildren(...answer.series.map((s, k) => new Option(`${k + 1}: ${s.modality || s.source} ${s.series_id}`, k)));
  $("series-messages").textContent = answer.errors.concat(answer.skipped).join("; ");
  $("volume-result").hidden = false;
  showSeries(0);
}

function showImage(answer) {
  $("decision").textContent = answer.decision.predicted_class;
  showNotes("Caution", answer.warnings);
  probabilityTable(answer.decision.probabilities);
  $("overlay").src = answer.overlay;
  $("overlay-caption").textContent = OVERLAY_CAPTIONS[answer.saliency_map || "grad_cam"][0] +
    (answer.lesion_area_px === undefined ? "" : `; lesion ${answer.lesion_area_px} px`);
  $("image-result").hidden = false;
}

async function upload(file) {
  $("error").hidden = true;
  $("result").hidden = $("image-result").hidden = $("volume-result").hidden = true;
  setStatus("busy", `classifying ${file.name} ...`);
  const form = new FormData();
  form.append("file", file);
  try {
    const response = await fetch("/predict", {method: "POST", body: form});
    const answer = await response.json();
    if (!response.ok) return showError(answer.detail || `error ${response.status}`);
    $("result").hidden = false;
    (answer.kind === "image" ? showImage : showVolume)(answer);
    setStatus("done", `${file.name}: done`);
  } catch (e) {
    showError(`${file.name}: ${e}`);
  }
}

// The checkpoint's validation record, in one line (or that it has none: then no series result is validated).
function validationText(record) {
  if (!record) return "Validation: no record for this model (not validated on volumes).";
  const trained = record.trained_on.length ? record.trained_on.join(", ") : "unknown data";
  const volumes = record.volumes_validated ? "validated on volumes" : "not validated on volumes";
  const heldOut = Object.entries(record.held_out).map(([k, v]) => `${k} ${v}`).join(", ");
  return `Validation: trained on ${trained}; ${volumes}. ${record.summary}` + (heldOut ? ` Held out: ${heldOut}.` : "");
}

function setUp() {
  const zone = $("drop-zone");
  $("file-input").addEventListener("change", (e) => e.target.files[0] && upload(e.target.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
  });
  $("series-select").addEventListener("change", (e) => showSeries(Number(e.target.value)));
  $("slice-slider").addEventListener("input", (e) => showSlice(Number(e.target.value)));
  fetch("/model").then((r) => r.json()).then((card) => {
    const p = card.provenance, sha = (p.checkpoint_sha256 || "unknown").slice(0, 12);
    $("model-name").textContent = `${card.metadata.name || card.bundle} ${p.bundle.version || ""} (checkpoint ` +
      `${card.checkpoint.file}, sha256 ${sha}; monai-tumorcls ${p.package_version})`;
    $("model-validation").textContent = validationText(card.validation);
  });
}

setUp();
