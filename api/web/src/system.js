// The system panel: /system/status polled once a second, drawn as live
// charts over the last few minutes (bounded: POINTS samples per series).

import uPlot from 'uplot';
import { call } from './api.js';

const POINTS = 300;
const PHASES = ['apply', 'predict', 'score', 'track', 'adjust'];
const COLORS = ['#4fb3ff', '#3ecf8e', '#ffb020', '#ff6b6b', '#b08cff'];

export class SystemPanel {
  constructor(state) {
    this.state = state;
    this.prev = null;
    this.series = {
      t: [], ingest: [], ticks: [], open: [], queue: [], latP50: [], latMax: [],
      phases: PHASES.map(() => []),
    };
    this.charts = [];
    this.last = null;
  }

  chart(el, title, labels, colors, unit) {
    const width = Math.max(200, el.clientWidth || 380);
    const opts = {
      title, width, height: 120,
      legend: { show: true, live: false },
      cursor: { show: false },
      scales: { x: { time: true } },
      axes: [
        { stroke: '#8a9bab', grid: { stroke: '#1f2d3a' }, ticks: { stroke: '#1f2d3a' } },
        { stroke: '#8a9bab', grid: { stroke: '#1f2d3a' }, ticks: { stroke: '#1f2d3a' }, size: 50,
          values: (u, vals) => vals.map((v) => fmt(v) + (unit || '')) },
      ],
      series: [{}].concat(labels.map((l, i) => ({ label: l, stroke: colors[i], width: 1.5, points: { show: false } }))),
    };
    const u = new uPlot(opts, [[], ...labels.map(() => [])], el);
    this.charts.push({ u, el });
    return u;
  }

  start() {
    this.cIngest = this.chart(document.getElementById('chart-ingest'), 'ingest (updates/s)', ['accepted/s', 'applied/s'], COLORS);
    this.cPhases = this.chart(document.getElementById('chart-phases'), 'tick phases (ms per tick)', PHASES, COLORS, '');
    this.cLatency = this.chart(document.getElementById('chart-latency'), 'data → risk event latency (ms)', ['p50', 'max'], COLORS);
    this.cRisks = this.chart(document.getElementById('chart-risks'), 'open risks', ['open risks'], ['#ff6b6b']);
    this.cQueue = this.chart(document.getElementById('chart-queue'), 'ingest queue depth (updates)', ['queued'], ['#b08cff']);
    this.poll();
    setInterval(() => this.poll(), 1000);
  }

  resize() {
    for (const { u, el } of this.charts) {
      const w = el.clientWidth;
      if (w > 0 && Math.abs(w - u.width) > 2) u.setSize({ width: w, height: 120 });
    }
  }

  async poll() {
    const r = await call('system/status');
    if (!r.ok) {
      document.getElementById('sys-summary').textContent = `system/status: ${r.status}`;
      return;
    }
    const s = r.body;
    this.last = s;
    const now = Date.now() / 1000;
    const p = this.prev;
    this.prev = { t: now, s };
    summary(s);
    if (!p) return;
    const dt = now - p.t;
    if (dt <= 0) return;
    const S = this.series;
    const push = (arr, v) => { arr.push(v); if (arr.length > POINTS) arr.shift(); };
    push(S.t, now);
    push(S.ingest, (s.totals.accepted - p.s.totals.accepted) / dt);
    push(S.ticks, (s.totals.applied - p.s.totals.applied) / dt);
    const dTicks = s.totals.ticks - p.s.totals.ticks;
    PHASES.forEach((ph, i) => {
      const a = (s.tick_phase_seconds || {})[ph] || 0, b = (p.s.tick_phase_seconds || {})[ph] || 0;
      push(S.phases[i], dTicks > 0 ? ((a - b) / dTicks) * 1000 : null);
    });
    const lat = this.state.latency.splice(0).sort((x, y) => x - y);
    push(S.latP50, lat.length ? lat[Math.floor(lat.length / 2)] : null);
    push(S.latMax, lat.length ? lat[lat.length - 1] : null);
    push(S.open, s.open_risks);
    push(S.queue, s.queue_depth);
    this.cIngest.setData([S.t, S.ingest, S.ticks]);
    this.cPhases.setData([S.t, ...S.phases]);
    this.cLatency.setData([S.t, S.latP50, S.latMax]);
    this.cRisks.setData([S.t, S.open]);
    this.cQueue.setData([S.t, S.queue]);
  }
}

function fmt(v) {
  if (v == null) return '';
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e3) return (v / 1e3).toFixed(a >= 1e4 ? 0 : 1) + 'k';
  if (a >= 10 || v === 0) return v.toFixed(0);
  return v.toFixed(a >= 1 ? 1 : 2);
}

function summary(s) {
  const up = s.uptime_s;
  const upS = up >= 3600 ? `${(up / 3600).toFixed(1)} h` : up >= 60 ? `${(up / 60).toFixed(0)} min` : `${up.toFixed(0)} s`;
  document.getElementById('sys-summary').innerHTML =
    `<span>vehicles <b>${s.vehicles.toLocaleString()}</b></span><span>open risks <b>${s.open_risks}</b></span>` +
    `<span>ingest <b>${fmt(s.rates.ingest_per_s)}/s</b></span><span>last tick <b>${s.last_tick_ms.toFixed(1)} ms</b></span>` +
    `<span>pairs scored <b>${fmt(s.rates.pairs_scored_per_s)}/s</b></span><span>stream clients <b>${s.stream_clients}</b></span>` +
    `<span>uptime <b>${upS}</b></span><span>grid <b>${s.grid.cells} cells</b></span>`;
}
