// The overlay's colours and their colour bar: the map's value s in [0, 1] is drawn red (low) to yellow (high), as
// the PNG overlays of the command line, with an opacity growing with s, so that 0 leaves the slice as it is.

export const OPACITY = 0.6;  // the opacity of s = 1
const BAR = {width: 18, height: 240, grey: 128};  // the bar shows each colour over mid-grey tissue

// what the overlay shows, by the answer's saliency_map
export const MAP_LABELS = {
  lesion: "predicted lesion probability (0..1)",
  grad_cam: "Grad-CAM of the tumour class (0..1, relative)",
};

export function heatColour(s) {
  return [255, 255 * s, 0];
}

export function drawColourBar(canvas, label, saliencyMap) {
  canvas.width = BAR.width;
  canvas.height = BAR.height;
  const context = canvas.getContext("2d");
  for (let y = 0; y < BAR.height; y++) {
    const s = 1 - y / (BAR.height - 1), c = heatColour(s), a = OPACITY * s;
    const rgb = c.map((v) => Math.round((1 - a) * BAR.grey + a * v));
    context.fillStyle = `rgb(${rgb.join(",")})`;
    context.fillRect(0, y, BAR.width, 1);
  }
  label.textContent = MAP_LABELS[saliencyMap] || MAP_LABELS.grad_cam;
}
