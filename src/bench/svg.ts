// A hand-written horizontal grouped bar chart (no chart library): one row per label, one bar per
// series, optional log scale for values that span orders of magnitude.
export interface BarChart {
  title: string;
  rows: { label: string; values: number[]; note?: string }[];
  series: string[];
  unit: string;
  log?: boolean;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function barChartSvg(c: BarChart): string {
  const left = 220, plotW = 560, barH = 10, gap = 8, top = 50;
  const rowH = c.series.length * barH + gap;
  const height = top + c.rows.length * rowH + 40;
  const positive = c.rows.flatMap((r) => r.values).filter((v) => Number.isFinite(v) && v > 0);
  const max = Math.max(1, ...positive);
  const min = c.log ? Math.max(0.1, Math.min(...positive, max) / 2) : 0;
  const scale = (v: number): number => {
    if (!(v > 0)) return 0;
    if (!c.log) return (v / max) * plotW;
    return Math.max(0, (Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min) || 1)) * plotW;
  };
  const parts: string[] = [];
  parts.push(`<text x="10" y="20" font-size="13" font-weight="bold">${esc(c.title)}</text>`);
  c.series.forEach((s, i) => {
    parts.push(`<rect x="${left + i * 160}" y="30" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${left + i * 160 + 14}" y="39" font-size="11">${esc(s)}</text>`);
  });
  if (c.log) {
    for (let e = Math.ceil(Math.log10(min)); e <= Math.floor(Math.log10(max)); e++) {
      const x = left + scale(10 ** e);
      parts.push(`<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${height - 36}" stroke="#ddd"/><text x="${x.toFixed(1)}" y="${height - 22}" font-size="10" text-anchor="middle">${(10 ** e).toLocaleString('en-US')}</text>`);
    }
  }
  c.rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 6}" y="${y + c.series.length * barH * 0.5 + 4}" font-size="11" text-anchor="end">${esc(r.label)}</text>`);
    r.values.forEach((v, j) => {
      const w = scale(v);
      parts.push(`<rect x="${left}" y="${y + j * barH}" width="${w.toFixed(1)}" height="${barH - 1}" fill="${COLORS[j % COLORS.length]}"><title>${esc(`${c.series[j] ?? ''}: ${v} ${c.unit}`)}</title></rect>`);
    });
    if (r.note) {
      const w = Math.max(...r.values.map(scale));
      parts.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + c.series.length * barH * 0.5 + 4}" font-size="10">${esc(r.note)}</text>`);
    }
  });
  parts.push(`<text x="${left + plotW / 2}" y="${height - 6}" font-size="11" text-anchor="middle">${esc(c.unit)}${c.log ? ' (log scale)' : ''}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${left + plotW + 60}" height="${height}" font-family="sans-serif">\n${parts.join('\n')}\n</svg>\n`;
}
