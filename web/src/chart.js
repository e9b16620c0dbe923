// A small SVG chart of a series over time: the mean as a line, the min–max range as a band, gaps where
// a bucket is empty. Plain SVG keeps the bundle small and the chart readable by screen readers (each
// point has a <title>, and the figure a summary).

import { formatNumber, formatTick } from './i18n.js';

const W = 340;
const H = 180;
const PAD = { left: 44, right: 10, top: 12, bottom: 26 };

/** Round numbers for an axis from lo to hi, about `count` of them. */
export function niceTicks(lo, hi, count = 4) {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 1;
    return niceTicks(lo - pad, hi + pad, count);
  }
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toFixed(10));
  if (ticks[ticks.length - 1] < hi) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

/** The grid lines and the labels of a y axis with these ticks (SVG fragments). */
export function yAxis(ticks, sy, { pad, width }) {
  return ticks.flatMap((v) => [
    `<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${sy(v)}" y2="${sy(v)}"/>`,
    `<text class="axis" x="${pad.left - 6}" y="${sy(v) + 3.5}" text-anchor="end">${formatNumber(v)}</text>`,
  ]);
}

/** The chart's SVG element from its fragments, with a summary for screen readers. */
export function chartSvg(parts, { width, height, summary }) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', summary);
  svg.innerHTML = parts.join('');
  return svg;
}

/**
 * points: [{x: ms, y, lo?, hi?, label?}], x sorted; options: unit, xDomain [ms, ms], highlightX,
 * xFormat (ms → text), summary (text for screen readers). Returns an SVG element.
 */
export function timeChart(points, { unit = '', xDomain, highlightX, xFormat, summary = '', color = '#2b6cb0' } = {}) {
  const values = points.flatMap((p) => [p.y, p.lo, p.hi]).filter((v) => Number.isFinite(v));
  const ticks = niceTicks(Math.min(0, ...values), values.length ? Math.max(...values) : 1);
  const [y0, y1] = [ticks[0], ticks[ticks.length - 1]];
  const [x0, x1] = xDomain || [points[0]?.x ?? 0, points[points.length - 1]?.x ?? 1];
  const span = Math.max(x1 - x0, 1);
  const sx = (x) => PAD.left + ((x - x0) / span) * (W - PAD.left - PAD.right);
  const sy = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const format = xFormat || ((x) => formatTick(x, span));

  const parts = yAxis(ticks, sy, { pad: PAD, width: W });
  for (let i = 0; i <= 3; i++) {
    const x = x0 + (span * i) / 3;
    const anchor = i === 0 ? 'start' : i === 3 ? 'end' : 'middle';
    parts.push(`<text class="axis" x="${sx(x)}" y="${H - 8}" text-anchor="${anchor}">${esc(format(x))}</text>`);
  }
  // Runs of consecutive buckets with a value: one band and one line each (gaps stay empty).
  const runs = [];
  let run = [];
  for (const p of points) {
    if (Number.isFinite(p.y)) run.push(p);
    else if (run.length) (runs.push(run), (run = []));
  }
  if (run.length) runs.push(run);
  for (const r of runs) {
    if (r.some((p) => Number.isFinite(p.lo) && Number.isFinite(p.hi) && p.hi > p.lo)) {
      const top = r.map((p) => `${sx(p.x)},${sy(p.hi ?? p.y)}`);
      const bottom = r.map((p) => `${sx(p.x)},${sy(p.lo ?? p.y)}`).reverse();
      parts.push(`<polygon class="band" fill="${color}" points="${[...top, ...bottom].join(' ')}"/>`);
    }
    if (r.length > 1) parts.push(`<polyline class="line" stroke="${color}" points="${r.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' ')}"/>`);
  }
  const dots = points.length <= 60;
  for (const p of points) {
    if (!Number.isFinite(p.y)) continue;
    const label = `${p.label || format(p.x)}: ${formatNumber(p.y)} ${unit}`;
    const lone = !dots && runs.some((r) => r.length === 1 && r[0] === p);
    const r = dots || lone ? 2.6 : 0;
    // Invisible hit targets carry the tooltips when there are too many points to draw dots.
    parts.push(`<circle class="${r ? 'dot' : 'hit'}" fill="${color}" cx="${sx(p.x)}" cy="${sy(p.y)}" r="${r || 3}"><title>${esc(label)}</title></circle>`);
  }
  if (Number.isFinite(highlightX) && highlightX >= x0 && highlightX <= x1) {
    parts.push(`<line class="now" x1="${sx(highlightX)}" x2="${sx(highlightX)}" y1="${PAD.top}" y2="${H - PAD.bottom}"/>`);
  }
  return chartSvg(parts, { width: W, height: H, summary });
}

// Profiles over the hours of a day or the months of a year (the energy and the transit views).
const LINE_W = 340;
const LINE_H = 170;
const LINE_PAD = { left: 46, right: 10, top: 10, bottom: 24 };

/** A chart of several series over the same x values (SVG; each series a line with a <title>). */
export function lineChart({ xs, series, unit = '', xTicks = [], xFormat = String, summary = '' }) {
  const values = series.flatMap((s) => s.values).filter(Number.isFinite);
  const ticks = niceTicks(Math.min(0, ...values), values.length ? Math.max(...values) : 1);
  const [y0, y1] = [ticks[0], ticks[ticks.length - 1]];
  const x0 = Math.min(...xs, ...xTicks);
  const x1 = Math.max(...xs, ...xTicks);
  const sx = (x) => LINE_PAD.left + ((x - x0) / Math.max(x1 - x0, 1e-9)) * (LINE_W - LINE_PAD.left - LINE_PAD.right);
  const sy = (y) => LINE_H - LINE_PAD.bottom - ((y - y0) / (y1 - y0)) * (LINE_H - LINE_PAD.top - LINE_PAD.bottom);
  const parts = yAxis(ticks, sy, { pad: LINE_PAD, width: LINE_W });
  parts.push(`<text class="axis" x="4" y="${LINE_PAD.top + 2}" text-anchor="start">${esc(unit)}</text>`);
  xTicks.forEach((x, i) => {
    const anchor = i === 0 ? 'start' : i === xTicks.length - 1 ? 'end' : 'middle';
    parts.push(`<text class="axis" x="${sx(x)}" y="${LINE_H - 7}" text-anchor="${anchor}">${esc(xFormat(x))}</text>`);
  });
  for (const s of series) {
    const points = xs.map((x, i) => [x, s.values[i]]).filter(([, y]) => Number.isFinite(y));
    const last = points[points.length - 1];
    parts.push(
      `<polyline class="line" data-series="${esc(s.name)}" stroke="${s.color}" ${s.dashed ? 'stroke-dasharray="4 3"' : ''} points="${points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' ')}"><title>${esc(s.name)}${last ? `: ${esc(formatNumber(last[1]))} ${esc(unit)} (${esc(xFormat(last[0]))})` : ''}</title></polyline>`,
    );
  }
  return chartSvg(parts, { width: LINE_W, height: LINE_H, summary });
}


/** Bars of counts over consecutive x values (hours of a day): each bar has a <title> with its value. */
export function barChart({ values, unit = '', xTicks = [], xFormat = String, summary = '', color = '#2b6cb0' }) {
  const top = values.length ? Math.max(...values) : 1;
  const ticks = niceTicks(0, top > 0 ? top : 1);
  const y1 = ticks[ticks.length - 1];
  const width = (LINE_W - LINE_PAD.left - LINE_PAD.right) / Math.max(values.length, 1);
  const sx = (i) => LINE_PAD.left + i * width;
  const sy = (y) => LINE_H - LINE_PAD.bottom - (y / y1) * (LINE_H - LINE_PAD.top - LINE_PAD.bottom);
  const parts = yAxis(ticks, sy, { pad: LINE_PAD, width: LINE_W });
  parts.push(`<text class="axis" x="4" y="${LINE_PAD.top + 2}" text-anchor="start">${esc(unit)}</text>`);
  xTicks.forEach((x, i) => {
    const anchor = i === 0 ? 'start' : i === xTicks.length - 1 ? 'end' : 'middle';
    parts.push(`<text class="axis" x="${sx(x)}" y="${LINE_H - 7}" text-anchor="${anchor}">${esc(xFormat(x))}</text>`);
  });
  values.forEach((v, i) => {
    const y = sy(Math.max(0, v));
    parts.push(
      `<rect class="bar" fill="${color}" x="${sx(i) + width * 0.1}" y="${y}" width="${width * 0.8}" height="${Math.max(0, LINE_H - LINE_PAD.bottom - y)}"><title>${esc(xFormat(i))}: ${esc(formatNumber(v))} ${esc(unit)}</title></rect>`,
    );
  });
  return chartSvg(parts, { width: LINE_W, height: LINE_H, summary });
}

const esc = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
