// A hand-drawn SVG chart of two daily series: created and completed.
import { h } from './dom.js';

// lineChart draws points ({t, created, completed}) as two lines with a
// y axis; a table with the same numbers follows for screen readers.
export function lineChart(points, title) {
  const W = 720, H = 240, L = 40, R = 10, T = 10, B = 28;
  const max = Math.max(1, ...points.map((p) => Math.max(p.created, p.completed)));
  const step = points.length > 1 ? (W - L - R) / (points.length - 1) : 0;
  const x = (i) => L + i * step;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = h('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title },
    h('title', { text: title }));
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(max * frac);
    svg.append(h('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#d5d9df' }),
      h('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#4d5560', text: String(v) }));
  }
  const labels = [0, Math.floor((points.length - 1) / 2), points.length - 1];
  for (const i of new Set(labels)) {
    if (!points[i]) continue;
    svg.append(h('text', { x: x(i), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === points.length - 1 ? 'end' : 'middle',
      'font-size': 11, fill: '#4d5560', text: points[i].t.slice(0, 10) }));
  }
  for (const [key, color] of [['created', '#0b57d0'], ['completed', '#146c2e']]) {
    const pts = points.map((p, i) => `${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
    svg.append(h('polyline', { points: pts, fill: 'none', stroke: color, 'stroke-width': 2.5, 'data-series': key }));
  }
  const legend = h('div', { class: 'legend', 'aria-hidden': 'true' },
    h('span', {}, h('span', { class: 'swatch created' }), 'Created'),
    h('span', {}, h('span', { class: 'swatch completed' }), 'Completed'));
  const data = h('table', { class: 'sr-only' }, h('caption', { text: title }),
    h('tr', {}, h('th', { text: 'Day' }), h('th', { text: 'Created' }), h('th', { text: 'Completed' })),
    points.map((p) => h('tr', {}, h('td', { text: p.t.slice(0, 10) }), h('td', { text: p.created }), h('td', { text: p.completed }))));
  return h('div', { class: 'chart' }, svg, legend, data);
}
