// The model card from GET /model: the bundle's metadata.json (name, task, description, training data, intended
// use), the checkpoint's own summary of its training data, and its validation record (the held-out numbers).

const $ = (id) => document.getElementById(id);

// The checkpoint's validation record, in one line (or that it has none: then no series result is validated).
export function validationText(record) {
  if (!record) return "Validation: no record for this model (not validated on volumes).";
  const trained = record.trained_on.length ? record.trained_on.join(", ") : "unknown data";
  const volumes = record.volumes_validated ? "validated on volumes" : "not validated on volumes";
  const heldOut = Object.entries(record.held_out).map(([k, v]) => `${k} ${v}`).join(", ");
  return `Validation: trained on ${trained}; ${volumes}. ${record.summary}` + (heldOut ? ` Held out: ${heldOut}.` : "");
}

function trainingData(card) {
  const parts = [card.metadata.data_source || "not stated in the bundle's metadata"];
  const splits = (card.checkpoint.metadata || {}).training_data || {};
  const counts = Object.entries(splits).map(([split, s]) => `${split} ${s.total}`);
  if (counts.length) parts.push(`this checkpoint: ${counts.join(", ")} images`);
  if (card.validation) parts.push(`sources: ${card.validation.trained_on.join(", ")}`);
  return parts.join("; ");
}

function heldOut(record) {
  const element = $("card-held-out");
  if (!record) {
    element.textContent = "none recorded in this checkpoint (the model was not validated on held-out volumes)";
    return;
  }
  const table = document.createElement("table");
  table.id = "held-out-table";
  for (const [name, value] of Object.entries(record.held_out)) {
    const row = table.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = String(value);
  }
  const note = document.createElement("p");
  note.textContent = `${record.summary} (${record.volumes_validated ? "validated" : "not validated"} on volumes; ` +
    `source: ${record.source})`;
  element.replaceChildren(table, note);
}

export function showModelCard(card) {
  const p = card.provenance, sha = (p.checkpoint_sha256 || "unknown").slice(0, 12);
  const name = `${card.metadata.name || card.bundle} ${p.bundle.version || ""}`;
  $("model-name").textContent = `${name} (checkpoint ${card.checkpoint.file}, sha256 ${sha}; monai-tumorcls ` +
    `${p.package_version})`;
  $("model-validation").textContent = validationText(card.validation);
  $("card-model").textContent = `${name}: classes ${card.class_names.join(", ")}`;
  $("card-task").textContent = card.metadata.task || "";
  $("card-description").textContent = card.metadata.description || "";
  $("card-training-data").textContent = trainingData(card);
  $("card-intended-use").textContent = card.metadata.intended_use || "";
  heldOut(card.validation);
}
