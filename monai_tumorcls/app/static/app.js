// The page of monai_tumorcls.app: upload one file to POST /predict and show the answer. No libraries, no
// network access beyond this server (the machines are offline): plain ES modules, SVG and canvas.

import {drawColourBar} from "./colourbar.js";
import {showModelCard} from "./modelcard.js";
import {drawPlot} from "./plot.js";
import {Viewer} from "./viewer.js";

const $ = (id) => document.getElementById(id);
let volume = null;  // the last volume answer: {study_id, series: [...]}
let viewer = null;

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

function currentSeries() {
  return volume.series[Number($("series-select").value)];
}

// What the overlays show: the predicted lesion map (outlined in green) of a network with a lesion head, or Grad-CAM.
const OVERLAY_CAPTIONS = {
  lesion: ["predicted lesion (outlined; the cross marks the peak)", "predicted lesion probability"],
  grad_cam: ["Grad-CAM of the predicted class (the cross marks the peak)", "Grad-CAM of the tumour class"],
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
  $("slice-overlay-caption").textContent = OVERLAY_CAPTIONS[volume.saliency_map || "grad_cam"][1] +
    (s.has_map ? "" : " (none for this slice: only the contributing slices are explained)");
  drawPlot($("plot"), series, i, showSlice);
  return viewer.show(i);
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
  $("slice-slider").max = series.slices.length - 1;
  viewer.setSeries(volume.study_id, series, series.modality);
  return showSlice(d.contributing_slices.length ? d.contributing_slices[0] : 0);  // the slice that weighs most
}

// The series list names each series as a reader does (DICOM SeriesDescription, NIfTI file name), never by its id.
function seriesOption(series, k) {
  const option = new Option(series.description, k);
  option.title = `${series.modality || series.source}, ${series.n_slices} ${series.slice_plane} slices`;
  return option;
}

function showVolume(answer) {
  volume = answer;
  $("series-select").replaceChildren(...answer.series.map(seriesOption));
  $("series-messages").textContent = answer.errors.concat(answer.skipped).join("; ");
  drawColourBar($("colour-bar"), $("colour-bar-label"), answer.saliency_map);
  $("volume-result").hidden = false;
  return showSeries(0);
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
    await (answer.kind === "image" ? showImage : showVolume)(answer);
    setStatus("done", `${file.name}: done`);
  } catch (e) {
    showError(`${file.name}: ${e}`);
  }
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
  viewer = new Viewer({
    original: $("view-original"), overlay: $("view-overlay"), level: $("wl-level"), width: $("wl-width"),
    preset: $("wl-preset"), mode: $("drag-mode"), message: $("viewer-message"), zoomIn: $("zoom-in"),
    zoomOut: $("zoom-out"), zoomReset: $("zoom-reset"),
  });
  fetch("/model").then((r) => r.json()).then(showModelCard);
}

setUp();
