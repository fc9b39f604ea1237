// The tumour probability of every slice of a series as inline SVG: one point per classified slice (larger and
// orange for the slices that made the decision), the 0.5 line, slice-number ticks, and a cursor at the slice shown.
// Clicking a point, or anywhere in the plot, selects the nearest slice.

const SVG = "http://www.w3.org/2000/svg";
const SIZE = {width: 640, height: 230, left: 46, right: 12, top: 10, bottom: 42};

function add(name, attributes, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, v);
  parent.appendChild(el);
  return el;
}

// At most about 10 ticks at 1, 2, 5 x 10^n slices apart, labelled with slice numbers (1-based, as the slider).
function tickStep(n) {
  for (let scale = 1; ; scale *= 10) {
    for (const step of [1, 2, 5]) if (n / (step * scale) <= 10) return step * scale;
  }
}

function axes(svg, n, x, y) {
  const {width, height, left, right, bottom} = SIZE;
  for (const p of [0, 0.5, 1]) {
    add("line", {x1: left, x2: width - right, y1: y(p), y2: y(p), stroke: p === 0.5 ? "#b00020" : "#ccc",
                 "stroke-dasharray": p === 0.5 ? "4 3" : ""}, svg);
    add("text", {x: left - 6, y: y(p) + 4, "font-size": 11, "text-anchor": "end"}, svg).textContent = p.toFixed(1);
  }
  const step = tickStep(n);
  for (let number = 1; number <= n; number += number === 1 && step > 1 ? step - 1 : step) {
    add("line", {x1: x(number - 1), x2: x(number - 1), y1: y(0), y2: y(0) + 5, stroke: "#444"}, svg);
    add("text", {class: "x-tick", x: x(number - 1), y: y(0) + 17, "font-size": 11, "text-anchor": "middle"}, svg)
      .textContent = String(number);
  }
  add("text", {x: (left + width - right) / 2, y: height - 6, "font-size": 12, "text-anchor": "middle"}, svg)
    .textContent = "slice number";
  add("text", {x: 12, y: y(0.5), "font-size": 12, "text-anchor": "middle", transform: `rotate(-90 12 ${y(0.5)})`}, svg)
    .textContent = "tumour probability";
}

export function drawPlot(container, series, selected, onSelect) {
  const {width, height, left, right, top, bottom} = SIZE;
  const n = series.slices.length;
  const x = (i) => left + (n > 1 ? (i * (width - left - right)) / (n - 1) : (width - left - right) / 2);
  const y = (p) => top + (1 - p) * (height - top - bottom);
  const svg = document.createElementNS(SVG, "svg");
  for (const [k, v] of Object.entries({id: "slice-plot", width, height, role: "img",
                                       "aria-label": "tumour probability per slice"})) svg.setAttribute(k, v);
  axes(svg, n, x, y);
  const kept = series.slices.filter((s) => s.tumour_probability !== null);
  const points = kept.map((s) => `${x(s.index).toFixed(1)},${y(s.tumour_probability).toFixed(1)}`);
  add("polyline", {points: points.join(" "), fill: "none", stroke: "#4a7bd0", "stroke-width": 1.5}, svg);
  for (const s of kept) {
    const dot = add("circle", {cx: x(s.index), cy: y(s.tumour_probability), r: s.contributing ? 4 : 2.5,
                               fill: s.contributing ? "#e08000" : "#4a7bd0", "data-index": s.index,
                               class: s.contributing ? "slice-point contributing" : "slice-point"}, svg);
    add("title", {}, dot).textContent = `slice ${s.index + 1}: ${s.tumour_probability.toFixed(4)}`;
  }
  add("line", {id: "plot-cursor", x1: x(selected), x2: x(selected), y1: top, y2: y(0), stroke: "#222"}, svg);
  svg.addEventListener("click", (event) => {
    const index = event.target.dataset ? event.target.dataset.index : undefined;
    if (index !== undefined) return onSelect(Number(index));
    const box = svg.getBoundingClientRect();
    const i = Math.round(((event.clientX - box.left - left) * (n - 1)) / (width - left - right));
    onSelect(Math.min(Math.max(i, 0), n - 1));
  });
  container.replaceChildren(svg);
}
