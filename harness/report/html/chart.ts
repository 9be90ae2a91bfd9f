/**
 * Inline SVG interval charts: each measurement is a point with its uncertainty bar ([low, high]) and
 * the tolerance band behind it. One chart must read well for a one-second reading (bars ~1000 ms wide)
 * and for an edge-timed one (bars ~5 ms wide against a ±2 s band): when the readings span under a
 * twentieth of the band's scale, a second panel zooms onto the readings alone, and every point has a
 * minimum drawn size and caps, so a bar narrower than a pixel is still seen. Pure: data in, markup out.
 */
import { esc } from './escape.js';

export interface ChartPoint {
  /** Position on the x axis: an index (run report) or host wall-clock ms (history). */
  x: number;
  value: number;
  low: number;
  high: number;
  limitLow: number;
  limitHigh: number;
  outcome: string;
  /** Shown on hover and read by tests; escaped here. */
  label: string;
}

export interface ChartMarker {
  x: number;
  label: string;
}

export interface IntervalChartOptions {
  title: string;
  unit: string;
  points: ChartPoint[];
  /** 'index': points 1..n in order; 'time': x is wall-clock ms, labelled as dates. */
  xKind: 'index' | 'time';
  /** Vertical marks on the x axis (firmware changes). */
  markers?: ChartMarker[];
  widthPx?: number;
}

const HEIGHT_PX = 200;
const PAD = { left: 64, right: 12, top: 14, bottom: 28 };
/** Below this share of the full scale the readings get a zoomed panel of their own. */
const ZOOM_BELOW_SHARE = 0.05;

interface Range {
  min: number;
  max: number;
}

function padded(range: Range, share = 0.08): Range {
  const span = range.max - range.min;
  const pad = span > 0 ? span * share : Math.max(Math.abs(range.max) * 0.1, 1);
  return { min: range.min - pad, max: range.max + pad };
}

/** 1, 2 or 5 times a power of ten, about `count` ticks across the range. */
export function niceTicks(range: Range, count = 5): number[] {
  const span = range.max - range.min;
  if (!(span > 0) || !Number.isFinite(span)) return [range.min];
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(range.min / step) * step; v <= range.max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/** A tick label in the measurement's unit; ms become seconds when the scale is seconds. */
export function formatTick(value: number, unit: string, range: Range): string {
  const span = range.max - range.min;
  if (unit === 'ms' && Math.max(Math.abs(range.min), Math.abs(range.max)) >= 2000 && span >= 1000) {
    return `${trimNumber(value / 1000, span >= 10_000 ? 0 : 1)}s`;
  }
  const decimals = span >= 50 ? 0 : span >= 5 ? 1 : span >= 0.5 ? 2 : 3;
  return `${trimNumber(value, decimals)}${unit}`;
}

function trimNumber(value: number, decimals: number): string {
  const text = value.toFixed(decimals);
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function px(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

function finiteBand(points: ChartPoint[]): Range | undefined {
  const lows = points.map((p) => p.limitLow).filter(Number.isFinite);
  const highs = points.map((p) => p.limitHigh).filter(Number.isFinite);
  if (lows.length === 0 && highs.length === 0) return undefined;
  return { min: lows.length > 0 ? Math.min(...lows) : Math.min(...highs), max: highs.length > 0 ? Math.max(...highs) : Math.max(...lows) };
}

function dataRange(points: ChartPoint[]): Range {
  let min = Infinity;
  let max = -Infinity;
  for (const p of points) {
    for (const v of [p.low, p.high, p.value]) {
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return Number.isFinite(min) ? { min, max } : { min: -1, max: 1 };
}

/** A date when the axis spans days, a date and time when it spans hours. */
function dateLabel(ms: number, spanMs: number): string {
  const iso = new Date(ms).toISOString();
  return spanMs >= 5 * 86_400_000 ? iso.slice(0, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

interface Panel {
  y: Range;
  caption: string;
}

/** One chart (or a full and a zoomed panel) as inline SVG markup, with an accessible title. */
export function renderIntervalChart(options: IntervalChartOptions): string {
  const points = options.points.filter((p) => Number.isFinite(p.value));
  if (points.length === 0) return '';
  const data = dataRange(points);
  const band = finiteBand(points);
  const full = padded(band ? { min: Math.min(band.min, data.min), max: Math.max(band.max, data.max) } : data);
  const panels: Panel[] = [{ y: full, caption: band ? 'with the tolerance band' : 'no limit: recorded only' }];
  const dataSpan = Math.max(data.max - data.min, 1e-9);
  if (band && dataSpan < (full.max - full.min) * ZOOM_BELOW_SHARE) {
    panels.push({ y: padded(data, 0.25), caption: 'zoomed to the readings (bars are the uncertainty)' });
  }
  return panels.map((panel, i) => renderPanel(options, points, panel, band, i > 0)).join('\n');
}

function renderPanel(options: IntervalChartOptions, points: ChartPoint[], panel: Panel, band: Range | undefined, zoomed: boolean): string {
  const width = options.widthPx ?? 640;
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT_PX - PAD.top - PAD.bottom;
  const xs = points.map((p) => p.x);
  const xMin = options.xKind === 'index' ? 0.5 : Math.min(...xs);
  const xMax = options.xKind === 'index' ? points.length + 0.5 : Math.max(...xs);
  const xSpan = xMax - xMin || 1;
  const sx = (x: number): number => PAD.left + (options.xKind === 'time' && xMax === xMin ? plotW / 2 : ((x - xMin) / xSpan) * plotW);
  const clampY = (v: number): number => Math.min(panel.y.max, Math.max(panel.y.min, v));
  const sy = (v: number): number => PAD.top + (1 - (clampY(v) - panel.y.min) / (panel.y.max - panel.y.min)) * plotH;
  const parts: string[] = [];
  const title = `${options.title}${zoomed ? ' (zoomed)' : ''}`;
  parts.push(
    `<svg class="chart${zoomed ? ' zoom' : ''}" role="img" viewBox="0 0 ${width} ${HEIGHT_PX}" width="${width}" height="${HEIGHT_PX}" ` +
      `data-unit="${esc(options.unit)}" data-panel="${zoomed ? 'zoom' : 'full'}" xmlns="http://www.w3.org/2000/svg">`,
    `<title>${esc(title)}: ${esc(panel.caption)}</title>`,
  );
  if (band) {
    const top = sy(band.max);
    const bottom = sy(band.min);
    if (bottom - top > 0.5) {
      parts.push(`<rect class="band" x="${PAD.left}" y="${px(top)}" width="${plotW}" height="${px(bottom - top)}"/>`);
    }
    for (const limit of [band.min, band.max]) {
      if (limit >= panel.y.min && limit <= panel.y.max) {
        parts.push(`<line class="limit" x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${px(sy(limit))}" y2="${px(sy(limit))}"/>`);
      }
    }
  }
  for (const tick of niceTicks(panel.y)) {
    const y = sy(tick);
    parts.push(`<line class="grid" x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${px(y)}" y2="${px(y)}"/>`);
    parts.push(`<text class="tick" x="${PAD.left - 6}" y="${px(y + 4)}" text-anchor="end">${esc(formatTick(tick, options.unit, panel.y))}</text>`);
  }
  if (panel.y.min < 0 && panel.y.max > 0) parts.push(`<line class="zero" x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${px(sy(0))}" y2="${px(sy(0))}"/>`);
  for (const marker of options.markers ?? []) {
    const x = sx(marker.x);
    parts.push(
      `<g class="marker"><line x1="${px(x)}" x2="${px(x)}" y1="${PAD.top}" y2="${PAD.top + plotH}"/>` +
        `<title>${esc(marker.label)}</title><text x="${px(x + 3)}" y="${PAD.top + 10}">${esc(marker.label, 40)}</text></g>`,
    );
  }
  const xLabels = options.xKind === 'index' ? xIndexLabels(points.length) : xMax > xMin ? [0, 1, 2, 3, 4].map((k) => xMin + (k / 4) * xSpan) : [xMin];
  xLabels.forEach((x, k) => {
    const label = options.xKind === 'index' ? String(x) : dateLabel(x, xSpan);
    // The outermost time labels are anchored inwards, so they are not cut at the edges.
    const anchor = options.xKind === 'time' && xLabels.length > 1 ? (k === 0 ? 'start' : k === xLabels.length - 1 ? 'end' : 'middle') : 'middle';
    parts.push(`<text class="tick" x="${px(sx(x))}" y="${HEIGHT_PX - 8}" text-anchor="${anchor}">${esc(label)}</text>`);
  });
  const capHalf = Math.max(2, Math.min(6, plotW / points.length / 3));
  // Hundreds of bars would merge into a solid band: lighter bars, no caps, smaller dots.
  const dense = points.length > plotW / 6;
  points.forEach((p, i) => {
    const x = sx(options.xKind === 'index' ? i + 1 : p.x);
    const yLow = sy(p.low);
    const yHigh = sy(p.high);
    const cls = `pt o-${esc(p.outcome)}${dense ? ' dense' : ''}`;
    parts.push(
      `<g class="${cls}" data-x="${p.x}" data-value="${p.value}" data-low="${p.low}" data-high="${p.high}" data-outcome="${esc(p.outcome)}">` +
        `<title>${esc(p.label)}</title>` +
        `<line class="bar" x1="${px(x)}" x2="${px(x)}" y1="${px(yLow)}" y2="${px(yHigh)}"/>` +
        `<line class="cap" x1="${px(x - capHalf)}" x2="${px(x + capHalf)}" y1="${px(yLow)}" y2="${px(yLow)}"/>` +
        `<line class="cap" x1="${px(x - capHalf)}" x2="${px(x + capHalf)}" y1="${px(yHigh)}" y2="${px(yHigh)}"/>` +
        `<circle cx="${px(x)}" cy="${px(sy(p.value))}" r="3"/></g>`,
    );
  });
  parts.push(`<text class="caption" x="${PAD.left}" y="${PAD.top - 3}">${esc(panel.caption)}</text>`, '</svg>');
  return parts.join('');
}

function xIndexLabels(count: number): number[] {
  if (count <= 10) return Array.from({ length: count }, (_, i) => i + 1);
  const step = Math.ceil(count / 8);
  const labels: number[] = [];
  for (let i = 1; i <= count; i += step) labels.push(i);
  return labels;
}
