// The map: Web Mercator on a 2D canvas. The base layer (graticule,
// coastlines, borders) is drawn to an offscreen canvas when the view
// changes; vehicles, density, risks and the selection are drawn over it
// when new data arrives or the pointer moves.

import { mesh } from 'topojson-client';

const TILE = 256; // world size in px at zoom 0
const MAX_LAT = 85.05112878;
const MIN_ZOOM = 1;
const MAX_ZOOM = 19;
const EARTH_R = 6371008.8;

export function project(lon, lat) {
  const s = Math.sin(Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

export function unproject(x, y) {
  const lon = x * 360 - 180;
  const lat = 90 - 360 * Math.atan(Math.exp((y - 0.5) * 2 * Math.PI)) / Math.PI;
  return [lon, lat];
}

// Altitude colour: drones low (green), general aviation (yellow), airliners
// high (blue to violet).
export const altStops = [
  [0, [62, 207, 142]], [150, [160, 220, 60]], [1000, [255, 200, 40]],
  [3000, [255, 140, 60]], [6000, [80, 180, 255]], [12000, [190, 120, 255]],
];

export function altColor(alt) {
  if (!(alt > 0)) return 'rgb(62,207,142)';
  for (let i = 1; i < altStops.length; i++) {
    const [a1, c1] = altStops[i];
    if (alt <= a1) {
      const [a0, c0] = altStops[i - 1];
      const f = (alt - a0) / (a1 - a0);
      return `rgb(${c0.map((c, k) => Math.round(c + (c1[k] - c) * f)).join(',')})`;
    }
  }
  const c = altStops[altStops.length - 1][1];
  return `rgb(${c.join(',')})`;
}

export function riskColor(r) {
  if (r >= 0.8) return '#ff3b3b';
  if (r >= 0.5) return '#ff9a2e';
  return '#ffe14d';
}

// ahead moves a vehicle dt seconds along its track at its ground speed
// (constant velocity on a sphere, fine over a prediction horizon).
export function ahead(v, dt) {
  const d = (v.speed || 0) * dt;
  const tr = (v.track || 0) * Math.PI / 180;
  const lat = v.lat + (d * Math.cos(tr)) / EARTH_R * 180 / Math.PI;
  const lon = v.lon + (d * Math.sin(tr)) / (EARTH_R * Math.cos(v.lat * Math.PI / 180)) * 180 / Math.PI;
  return { lat, lon, alt: v.alt + (v.vrate || 0) * dt };
}

export class MapView {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.base = document.createElement('canvas');
    this.onChange = onChange;
    this.cx = 0.5; this.cy = 0.5; this.zoom = 2;
    this.lines = { coast: [], border: [] };
    this.data = { mode: 'vehicles', vehicles: [], total: 0, density: null, risky: [], horizon_s: 30 };
    this.byId = new Map();
    this.listed = new Set();
    this.extra = new Map(); // vehicles fetched one by one since the last map answer
    this.risks = [];
    this.hover = null;
    this.selected = null; // {kind:'vehicle', id} or {kind:'risk', risk}
    this.pair = new Map(); // id -> vehicle, for the selected risk's pair
    this.trails = new Map(); // id -> [[lon,lat],...], bounded
    this.drawn = 0;
    this.drawnBBox = null;
    this.lineDrawn = new Map(); // risk id -> Date.now() it was first drawn
    this.stats = { frames: 0, frameMsSum: 0, frameMsMax: 0, last: [] };
    this.baseDirty = true;
    this.dirty = true;
    this.resize();
    this.bind();
    const loop = () => {
      if (this.dirty || this.baseDirty) this.draw();
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  setWorld(topo) {
    const toLines = (geom) => geom.coordinates.map((line) => {
      const a = new Float64Array(line.length * 2);
      let minx = 1, miny = 1, maxx = 0, maxy = 0;
      line.forEach(([lon, lat], i) => {
        const [x, y] = project(lon, lat);
        a[2 * i] = x; a[2 * i + 1] = y;
        minx = Math.min(minx, x); maxx = Math.max(maxx, x); miny = Math.min(miny, y); maxy = Math.max(maxy, y);
      });
      return { a, minx, miny, maxx, maxy };
    });
    this.lines.coast = toLines(mesh(topo, topo.objects.land));
    this.lines.border = toLines(mesh(topo, topo.objects.countries, (a, b) => a !== b));
    this.baseDirty = true;
  }

  get worldPx() { return TILE * Math.pow(2, this.zoom); }

  toScreen(lon, lat) {
    const [x, y] = project(lon, lat);
    const W = this.worldPx;
    return [(x - this.cx) * W + this.w / 2, (y - this.cy) * W + this.h / 2];
  }

  toLonLat(px, py) {
    const W = this.worldPx;
    return unproject(this.cx + (px - this.w / 2) / W, this.cy + (py - this.h / 2) / W);
  }

  // bbox is the visible area [minLon, minLat, maxLon, maxLat], clamped to
  // the world.
  bbox() {
    const [lon0, lat0] = this.toLonLat(0, this.h);
    const [lon1, lat1] = this.toLonLat(this.w, 0);
    const r = (v) => Math.round(v * 1e6) / 1e6;
    return [r(Math.max(-180, lon0)), r(Math.max(-MAX_LAT, lat0)), r(Math.min(180, lon1)), r(Math.min(MAX_LAT, lat1))];
  }

  setView(lon, lat, zoom) {
    const [x, y] = project(lon, lat);
    this.cx = x; this.cy = y;
    if (zoom !== undefined) this.zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, zoom));
    this.clamp();
    this.changed();
  }

  fit(minLon, minLat, maxLon, maxLat, maxZoom = 15) {
    const [x0, y1] = project(minLon, minLat);
    const [x1, y0] = project(maxLon, maxLat);
    const span = Math.max((x1 - x0) / (this.w * 0.8), (y1 - y0) / (this.h * 0.8), 1e-12);
    const z = Math.log2(1 / span / TILE);
    this.cx = (x0 + x1) / 2; this.cy = (y0 + y1) / 2;
    this.zoom = Math.max(MIN_ZOOM, Math.min(maxZoom, z));
    this.clamp();
    this.changed();
  }

  clamp() {
    const halfW = this.w / 2 / this.worldPx, halfH = this.h / 2 / this.worldPx;
    this.cx = halfW >= 0.5 ? 0.5 : Math.max(halfW, Math.min(1 - halfW, this.cx));
    this.cy = halfH >= 0.5 ? 0.5 : Math.max(halfH, Math.min(1 - halfH, this.cy));
  }

  changed() {
    this.baseDirty = true;
    this.dirty = true;
    if (this.onChange) this.onChange();
  }

  zoomAt(px, py, dz) {
    const [lon, lat] = this.toLonLat(px, py);
    this.zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, this.zoom + dz));
    const [x, y] = project(lon, lat);
    const W = this.worldPx;
    this.cx = x - (px - this.w / 2) / W;
    this.cy = y - (py - this.h / 2) / W;
    this.clamp();
    this.changed();
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.w = Math.max(1, Math.round(r.width)); this.h = Math.max(1, Math.round(r.height));
    this.dpr = dpr;
    for (const c of [this.canvas, this.base]) { c.width = this.w * dpr; c.height = this.h * dpr; }
    this.clamp();
    this.baseDirty = true; this.dirty = true;
  }

  bind() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      this.zoomAt(e.clientX - r.left, e.clientY - r.top, -Math.sign(e.deltaY) * 0.5);
    }, { passive: false });
    c.addEventListener('mousedown', (e) => {
      drag = { x: e.clientX, y: e.clientY, cx: this.cx, cy: this.cy, moved: false };
      c.classList.add('dragging');
    });
    window.addEventListener('mouseup', (e) => {
      if (!drag) return;
      c.classList.remove('dragging');
      const moved = drag.moved;
      drag = null;
      if (!moved && e.target === c) {
        const r = c.getBoundingClientRect();
        const v = this.pick(e.clientX - r.left, e.clientY - r.top);
        if (v && this.onPick) this.onPick(v);
      }
    });
    window.addEventListener('mousemove', (e) => {
      const r = c.getBoundingClientRect();
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        this.cx = drag.cx - dx / this.worldPx;
        this.cy = drag.cy - dy / this.worldPx;
        this.clamp();
        this.changed();
        return;
      }
      if (e.target !== c) { if (this.hover) { this.hover = null; this.dirty = true; this.onHover && this.onHover(null, 0, 0); } return; }
      const px = e.clientX - r.left, py = e.clientY - r.top;
      const v = this.pick(px, py);
      if ((v && v.id) !== (this.hover && this.hover.id)) { this.hover = v; this.dirty = true; }
      if (this.onHover) this.onHover(v, px, py);
    });
    window.addEventListener('resize', () => { this.resize(); this.changed(); });
  }

  // pick returns the vehicle drawn nearest to (px, py) within 10 px.
  pick(px, py) {
    let best = null, bd = 100;
    const consider = (v) => {
      const [x, y] = this.toScreen(v.lon, v.lat);
      const d = (x - px) ** 2 + (y - py) ** 2;
      if (d < bd) { bd = d; best = v; }
    };
    this.data.vehicles.forEach(consider);
    (this.data.risky || []).forEach(consider);
    this.pair.forEach(consider);
    return best;
  }

  // setData takes a map answer whose request started at asked
  // (performance.now()); vehicles fetched one by one after that are kept.
  setData(d, asked) {
    this.data = d;
    this.byId.clear();
    this.listed = new Set();
    for (const [id, v] of this.extra) if (!(v.addedAt > asked)) this.extra.delete(id);
    for (const v of d.vehicles) { this.byId.set(v.id, v); this.listed.add(v.id); }
    for (const v of this.extra.values()) if (!this.byId.has(v.id)) this.byId.set(v.id, v);
    for (const v of d.risky || []) this.byId.set(v.id, v);
    for (const v of this.pair.values()) if (!this.byId.has(v.id)) this.byId.set(v.id, v);
    this.recordTrails();
    this.dirty = true;
  }

  // addExtra adds vehicles fetched one by one (the pair of a risk that just
  // opened) until the next map answer, which lists them if they are in view.
  addExtra(vs) {
    const now = performance.now();
    for (const v of vs) if (!this.byId.has(v.id)) { v.addedAt = now; this.byId.set(v.id, v); this.extra.set(v.id, v); }
    this.dirty = true;
  }

  setPair(vs) {
    this.pair = new Map(vs.map((v) => [v.id, v]));
    for (const v of vs) this.byId.set(v.id, v);
    this.recordTrails();
    this.dirty = true;
  }

  // Trails are kept for the selected vehicle or pair only: bounded memory.
  recordTrails() {
    const want = new Set();
    if (this.selected && this.selected.kind === 'vehicle') want.add(this.selected.id);
    if (this.selected && this.selected.kind === 'risk') { want.add(this.selected.risk.vehicle_a); want.add(this.selected.risk.vehicle_b); }
    for (const id of this.trails.keys()) if (!want.has(id)) this.trails.delete(id);
    for (const id of want) {
      const v = this.byId.get(id);
      if (!v) continue;
      let t = this.trails.get(id);
      if (!t) { t = []; this.trails.set(id, t); }
      const last = t[t.length - 1];
      if (!last || last[0] !== v.lon || last[1] !== v.lat) t.push([v.lon, v.lat]);
      if (t.length > 600) t.splice(0, t.length - 600);
    }
  }

  // setTrail starts a vehicle's trail with its stored positions.
  setTrail(id, points) {
    const t = this.trails.get(id) || [];
    this.trails.set(id, points.concat(t).slice(-600));
    this.dirty = true;
  }

  // setRisks keeps the open risks lowest first, the order they are drawn in
  // (the highest on top), sorted once per list update, not per frame.
  setRisks(list) {
    this.risks = list.slice().sort((p, q) => p.risk - q.risk);
    this.dirty = true;
  }

  drawBase() {
    const ctx = this.base.getContext('2d');
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = '#0b1a2a';
    ctx.fillRect(0, 0, this.w, this.h);
    const W = this.worldPx, ox = this.w / 2 - this.cx * W, oy = this.h / 2 - this.cy * W;
    // The world's extent, so that land and sea read apart from "nothing".
    ctx.fillStyle = '#0e2236';
    ctx.fillRect(ox, oy, W, W);
    this.drawGraticule(ctx);
    const vx0 = (0 - ox) / W, vx1 = (this.w - ox) / W, vy0 = (0 - oy) / W, vy1 = (this.h - oy) / W;
    const stroke = (lines, style, width) => {
      ctx.strokeStyle = style; ctx.lineWidth = width;
      ctx.beginPath();
      for (const l of lines) {
        if (l.maxx < vx0 || l.minx > vx1 || l.maxy < vy0 || l.miny > vy1) continue;
        const a = l.a;
        ctx.moveTo(a[0] * W + ox, a[1] * W + oy);
        for (let i = 2; i < a.length; i += 2) ctx.lineTo(a[i] * W + ox, a[i + 1] * W + oy);
      }
      ctx.stroke();
    };
    stroke(this.lines.border, '#3b5872', 0.8);
    stroke(this.lines.coast, '#7fa6c4', 1.2);
    this.baseDirty = false;
  }

  drawGraticule(ctx) {
    const [lon0, lat0, lon1, lat1] = this.bbox();
    const span = Math.max(lon1 - lon0, 1e-9);
    const steps = [30, 10, 5, 2, 1, 0.5, 0.25, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001];
    let step = steps[0];
    for (const s of steps) if (span / s <= 12) step = s;
    ctx.strokeStyle = 'rgba(120,150,180,0.18)';
    ctx.fillStyle = 'rgba(160,185,210,0.55)';
    ctx.lineWidth = 1;
    ctx.font = '10px system-ui, sans-serif';
    ctx.beginPath();
    const fmt = (v) => (Math.round(v * 1000) / 1000).toString();
    for (let lon = Math.ceil(lon0 / step) * step; lon <= lon1; lon += step) {
      const [x] = this.toScreen(lon, 0);
      ctx.moveTo(x, 0); ctx.lineTo(x, this.h);
      ctx.fillText(fmt(lon) + '°', x + 2, this.h - 4);
    }
    for (let lat = Math.ceil(lat0 / step) * step; lat <= lat1; lat += step) {
      const [, y] = this.toScreen(0, lat);
      ctx.moveTo(0, y); ctx.lineTo(this.w, y);
      ctx.fillText(fmt(lat) + '°', 4, y - 2);
    }
    ctx.stroke();
  }

  drawScale(ctx) {
    const [, lat] = this.toLonLat(this.w / 2, this.h / 2);
    const mPerPx = (2 * Math.PI * 6378137 * Math.cos(lat * Math.PI / 180)) / this.worldPx;
    const target = mPerPx * 120;
    const pow = Math.pow(10, Math.floor(Math.log10(target)));
    let len = pow;
    for (const m of [1, 2, 5, 10]) if (m * pow <= target) len = m * pow;
    const px = len / mPerPx;
    const x = 14, y = this.h - 22;
    ctx.strokeStyle = '#d8e2ec'; ctx.fillStyle = '#d8e2ec'; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x, y); ctx.lineTo(x + px, y); ctx.lineTo(x + px, y - 5); ctx.stroke();
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText(len >= 1000 ? `${len / 1000} km` : `${len} m`, x + 4, y - 6);
  }

  draw() {
    const t0 = performance.now();
    if (this.baseDirty) this.drawBase();
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.base, 0, 0);
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    const d = this.data;
    if (d.mode === 'density' && d.density) this.drawDensity(ctx, d.density);
    // Counted against the box the data was asked for: what the server
    // answered for that box is what is drawn.
    const [b0, b1, b2, b3] = d.bbox || this.bbox();
    let drawn = 0;
    const inBox = (v) => v.lat >= b1 && v.lat <= b3 && v.lon >= b0 && v.lon <= b2;
    for (const v of d.vehicles) { this.drawVehicle(ctx, v, 1); if (inBox(v)) drawn++; }
    for (const v of d.risky || []) this.drawVehicle(ctx, v, 1.3);
    for (const v of this.pair.values()) if (!this.listed.has(v.id)) this.drawVehicle(ctx, v, 1.3);
    for (const v of this.extra.values()) if (!this.listed.has(v.id) && !this.pair.has(v.id)) this.drawVehicle(ctx, v, 1.3);
    this.drawn = drawn;
    this.drawnBBox = d.bbox;
    this.drawTrails(ctx);
    this.drawRisks(ctx);
    if (this.hover) this.drawPredicted(ctx, this.hover, '#ffffff');
    if (this.selected && this.selected.kind === 'vehicle') {
      const v = this.byId.get(this.selected.id);
      if (v) { this.drawPredicted(ctx, v, '#4fb3ff'); this.ring(ctx, v, '#4fb3ff'); }
    }
    this.drawScale(ctx);
    this.dirty = false;
    const ms = performance.now() - t0;
    const s = this.stats;
    s.frames++; s.frameMsSum += ms; s.frameMsMax = Math.max(s.frameMsMax, ms);
    s.last.push(ms); if (s.last.length > 120) s.last.shift();
  }

  drawDensity(ctx, g) {
    const [lon0, lat0, lon1, lat1] = g.bbox;
    const w = (lon1 >= lon0 ? lon1 - lon0 : lon1 - lon0 + 360) / g.cols, h = (lat1 - lat0) / g.rows;
    const lmax = Math.log1p(g.max || 1);
    for (let r = 0; r < g.rows; r++) {
      const [, y0] = this.toScreen(0, lat1 - r * h);
      const [, y1] = this.toScreen(0, lat1 - (r + 1) * h);
      for (let c = 0; c < g.cols; c++) {
        const n = g.counts[r * g.cols + c];
        if (!n) continue;
        const f = Math.log1p(n) / lmax;
        const [x0] = this.toScreen(lon0 + c * w, 0);
        const [x1] = this.toScreen(lon0 + (c + 1) * w, 0);
        ctx.fillStyle = `rgba(${Math.round(60 + 195 * f)},${Math.round(170 - 60 * f)},${Math.round(255 - 155 * f)},${0.25 + 0.6 * f})`;
        ctx.fillRect(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
      }
    }
  }

  drawVehicle(ctx, v, scale) {
    const [x, y] = this.toScreen(v.lon, v.lat);
    if (x < -10 || y < -10 || x > this.w + 10 || y > this.h + 10) return;
    const a = (v.track || 0) * Math.PI / 180;
    const s = 5 * scale;
    ctx.fillStyle = altColor(v.alt);
    ctx.beginPath();
    // A triangle pointing along the track (0° = north = up).
    ctx.moveTo(x + Math.sin(a) * s * 1.6, y - Math.cos(a) * s * 1.6);
    ctx.lineTo(x + Math.sin(a + 2.5) * s, y - Math.cos(a + 2.5) * s);
    ctx.lineTo(x + Math.sin(a - 2.5) * s, y - Math.cos(a - 2.5) * s);
    ctx.closePath();
    ctx.fill();
  }

  ring(ctx, v, color) {
    const [x, y] = this.toScreen(v.lon, v.lat);
    ctx.strokeStyle = color; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, y, 10, 0, 2 * Math.PI); ctx.stroke();
  }

  drawPredicted(ctx, v, color) {
    this.lastPredicted = v.id;
    const h = this.data.horizon_s || 30;
    const p = ahead(v, h);
    const [x0, y0] = this.toScreen(v.lon, v.lat);
    const [x1, y1] = this.toScreen(p.lon, p.lat);
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = color; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
    ctx.setLineDash([]);
    ctx.beginPath(); ctx.arc(x1, y1, 2.5, 0, 2 * Math.PI); ctx.fillStyle = color; ctx.fill();
  }

  drawTrails(ctx) {
    ctx.strokeStyle = 'rgba(79,179,255,0.8)'; ctx.lineWidth = 1.5;
    for (const t of this.trails.values()) {
      if (t.length < 2) continue;
      ctx.beginPath();
      t.forEach(([lon, lat], i) => { const [x, y] = this.toScreen(lon, lat); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
      ctx.stroke();
    }
  }

  // cpa is the predicted point of closest approach of a risk's pair: each
  // vehicle moved to the time of closest approach, and their midpoint.
  cpa(r, a, b) {
    const pa = ahead(a, r.tca - a.t), pb = ahead(b, r.tca - b.t);
    return { a: pa, b: pb, lat: (pa.lat + pb.lat) / 2, lon: (pa.lon + pb.lon) / 2 };
  }

  drawRisks(ctx) {
    const sel = this.selected && this.selected.kind === 'risk' ? this.selected.risk.id : null;
    const now = Date.now();
    const list = this.risks;
    const clock = this.data.clock || Date.now() / 1000;
    const labels = [];
    for (const r of list) {
      const a = this.byId.get(r.vehicle_a), b = this.byId.get(r.vehicle_b);
      if (!a || !b) continue;
      const [xa, ya] = this.toScreen(a.lon, a.lat);
      const [xb, yb] = this.toScreen(b.lon, b.lat);
      const off = (x, y) => x < 0 || y < 0 || x > this.w || y > this.h;
      if (off(xa, ya) && off(xb, yb)) continue;
      const col = riskColor(r.risk);
      ctx.strokeStyle = col;
      ctx.lineWidth = r.id === sel ? 4 : 2 + 2 * r.risk;
      ctx.beginPath(); ctx.moveTo(xa, ya); ctx.lineTo(xb, yb); ctx.stroke();
      const c = this.cpa(r, a, b);
      const [xc, yc] = this.toScreen(c.lon, c.lat);
      ctx.setLineDash([3, 3]); ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(xa, ya); ctx.lineTo(xc, yc); ctx.moveTo(xb, yb); ctx.lineTo(xc, yc); ctx.stroke();
      ctx.setLineDash([]);
      ctx.beginPath(); ctx.arc(xc, yc, 5, 0, 2 * Math.PI); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(xc - 3.5, yc - 3.5); ctx.lineTo(xc + 3.5, yc + 3.5); ctx.moveTo(xc + 3.5, yc - 3.5); ctx.lineTo(xc - 3.5, yc + 3.5); ctx.stroke();
      labels.push([r, xc, yc, col]);
      if (!this.lineDrawn.has(r.id)) this.lineDrawn.set(r.id, now);
    }
    // Labels only where they can be read: the selected risk always, the
    // others when few are in view.
    ctx.font = '11px system-ui, sans-serif';
    for (const [r, xc, yc, col] of labels) {
      if (r.id !== sel && labels.length > 25) continue;
      const dt = r.tca - clock;
      ctx.fillStyle = col;
      ctx.fillText(`CPA ${dt >= 0 ? 'in ' + dt.toFixed(0) + ' s' : dt.toFixed(0) + ' s ago'}, ${fmtDist(r.dmin)}`, xc + 8, yc - 6);
    }
    if (this.lineDrawn.size > 5000) {
      const open = new Set(this.risks.map((r) => r.id));
      for (const id of this.lineDrawn.keys()) if (!open.has(id)) this.lineDrawn.delete(id);
    }
  }
}

export function fmtDist(m) {
  if (!(m >= 0)) return '–';
  return m >= 1000 ? `${(m / 1000).toFixed(m >= 10000 ? 0 : 1)} km` : `${m.toFixed(0)} m`;
}
