// A small line chart as inline SVG: no library, no canvas, readable by screen readers through
// its title and the table of numbers beside it.

import { svg } from "./dom.js";
import { formatTime, formatValue } from "./i18n.js";

const W = 360;
const H = 180;
const PAD = { left: 44, right: 8, top: 10, bottom: 24 };

/** series: [{name, colour, points: [{ts, value}]}], start/end in seconds. */
export function lineChart({ title, series, start, end, unit }) {
  const values = series.flatMap((s) => s.points.map((p) => p.value));
  let lo = Math.min(0, ...values);
  let hi = Math.max(1, ...values);
  if (hi === lo) hi = lo + 1;
  const pad = (hi - lo) * 0.05;
  lo -= lo < 0 ? pad : 0;
  hi += pad;
  const x = (ts) => PAD.left + ((ts - start) / (end - start)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const grid = [];
  for (let i = 0; i <= 4; i += 1) {
    const ts = start + ((end - start) * i) / 4;
    grid.push(
      svg("line", { x1: x(ts), x2: x(ts), y1: PAD.top, y2: H - PAD.bottom, class: "grid" }),
      svg(
        "text",
        { x: x(ts), y: H - 6, class: "tick", "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" },
        formatTime(ts),
      ),
    );
  }
  for (const v of [lo, (lo + hi) / 2, hi]) {
    grid.push(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: PAD.left - 4, y: y(v) + 4, class: "tick", "text-anchor": "end" }, formatValue(Math.round(v), unit)),
    );
  }
  if (lo < 0) grid.push(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: "zero" }));
  const lines = series
    .filter((s) => s.points.length)
    .map((s) =>
      svg("polyline", {
        class: `series ${s.colour}`,
        fill: "none",
        points: s.points.map((p) => `${x(p.ts).toFixed(1)},${y(p.value).toFixed(1)}`).join(" "),
      }),
    );
  // Few samples (a new hub): mark each one, since a line needs two points to show.
  const dots = series
    .filter((s) => s.points.length && s.points.length < 30)
    .flatMap((s) => s.points.map((p) => svg("circle", { class: `point ${s.colour}`, cx: x(p.ts).toFixed(1), cy: y(p.value).toFixed(1), r: 2.5 })));
  return svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "chart" },
    svg("title", {}, title),
    ...grid,
    ...lines,
    ...dots,
  );
}
