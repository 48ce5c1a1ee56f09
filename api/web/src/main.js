// cdp's dashboard: the traffic on a map, the open risks as they happen,
// the system's health and the models in use. Everything comes from the
// public API; nothing is loaded from elsewhere.

import './style.css';
import 'uplot/dist/uPlot.min.css';
import { MapView, altStops, riskColor, fmtDist } from './map.js';
import { call, stream, token, setToken } from './api.js';
import { SystemPanel } from './system.js';
import { ModelsPanel } from './models.js';

const $ = (s) => document.querySelector(s);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

const MAP_PERIOD_MS = 400; // the map asks for its view 2.5 times a second
const MAX_ROWS = 300; // rows of the risk list drawn (the count shows all)

const state = {
  risks: new Map(), // id -> risk (open)
  sort: { key: 'risk', dir: -1 },
  firstShown: new Map(), // risk id -> Date.now() of its first row
  latency: [], // [emitted - data time] of the events of the last second, ms
  events: 0,
  connected: false,
};

const map = new MapView($('#map'), () => scheduleFetch(60));

// ---------- map data ----------
let fetchTimer = 0, inFlight = false, again = false, lastFetch = 0;
function scheduleFetch(delay) {
  clearTimeout(fetchTimer);
  fetchTimer = setTimeout(fetchView, delay);
}
let fetchStarted = 0;
const fetchStats = { n: 0, msSum: 0, msMax: 0 }; // map answers, request to drawn data
// fetchSoon asks for the view early (a risk opened between vehicles the
// map has not seen yet), at most every 150 ms.
function fetchSoon() {
  if (inFlight) { again = true; return; }
  scheduleFetch(Math.max(0, 150 - (performance.now() - fetchStarted)));
}
let pairFetches = 0;
async function fetchPair(a, b) {
  if (pairFetches >= 4) { fetchSoon(); return; } // a burst: the next map answer has them
  pairFetches++;
  try {
    const rs = await Promise.all([a, b].map((id) => call(`api/v1/vehicles/${encodeURIComponent(id)}`)));
    map.addExtra(rs.filter((r) => r.ok).map((r) => r.body));
  } finally {
    pairFetches--;
  }
}
async function fetchView() {
  if (inFlight) { again = true; return; }
  inFlight = true;
  fetchStarted = performance.now();
  const bbox = map.bbox();
  const cols = Math.max(1, Math.min(256, Math.round(map.w / 12)));
  const rows = Math.max(1, Math.min(256, Math.round(map.h / 12)));
  const t0 = performance.now();
  const r = await call(`api/v1/map?bbox=${bbox.join(',')}&max=5000&grid=${cols},${rows}`);
  inFlight = false;
  if (r.ok) {
    r.body.bbox = bbox;
    map.setData(r.body, t0);
    const ms = performance.now() - t0;
    mapStatus(r.body, ms);
    fetchStats.n++; fetchStats.msSum += ms; fetchStats.msMax = Math.max(fetchStats.msMax, ms);
    lastFetch = Date.now();
  } else {
    $('#map-status').textContent = `map: ${r.status} ${r.body && r.body.error ? r.body.error : ''}`;
  }
  if (map.selected && map.selected.kind === 'risk') refreshPair();
  if (again) { again = false; scheduleFetch(0); return; }
  // The period counts from the request: a slow answer is followed at once.
  scheduleFetch(Math.max(0, MAP_PERIOD_MS - (performance.now() - t0)));
}
function mapStatus(d, ms) {
  const shown = d.mode === 'density' ? `density of ${d.total.toLocaleString()} vehicles` : `${d.total.toLocaleString()} vehicles`;
  $('#map-status').textContent = `${shown} in view · ${ms.toFixed(0)} ms`;
}
async function refreshPair() {
  const r = map.selected.risk;
  const [a, b] = await Promise.all([r.vehicle_a, r.vehicle_b].map((id) => call(`api/v1/vehicles/${encodeURIComponent(id)}`)));
  const vs = [a, b].filter((x) => x.ok).map((x) => x.body);
  map.setPair(vs);
}

// ---------- legend, tooltip ----------
$('#legend').innerHTML = 'altitude' + altStops.map(([a, c]) =>
  `<span class="sw" style="background:rgb(${c.join(',')})"></span>${a >= 1000 ? a / 1000 + ' km' : a + ' m'}`).join('') +
  '<br>risk' + [[0.2, 'low'], [0.5, '≥ 0.5'], [0.8, '≥ 0.8']].map(([r, l]) =>
  `<span class="sw" style="background:${riskColor(r)}"></span>${l}`).join('') +
  '<br>⊗ closest approach · dashed: predicted track';
map.onHover = (v, px, py) => {
  const tt = $('#tooltip');
  if (!v) { tt.hidden = true; return; }
  tt.hidden = false;
  tt.textContent = `${v.id}\nalt ${v.alt.toFixed(0)} m  ${v.speed.toFixed(0)} m/s  ${v.track.toFixed(0)}°\nclass ${v.class}`;
  tt.style.left = px + 14 + 'px'; tt.style.top = py + 14 + 'px';
};
map.onPick = (v) => selectVehicle(v.id);
$('#zoom-in').onclick = () => map.zoomAt(map.w / 2, map.h / 2, 1);
$('#zoom-out').onclick = () => map.zoomAt(map.w / 2, map.h / 2, -1);
$('#zoom-fit').onclick = fitTraffic;

async function fitTraffic() {
  // The whole fleet's extent from one world-wide density answer.
  const r = await call('api/v1/map?bbox=-180,-85,180,85&max=1&grid=360,170');
  if (!r.ok || !r.body.total) return;
  if (r.body.mode === 'vehicles') {
    const v = r.body.vehicles[0];
    map.setView(v.lon, v.lat, 12);
    return;
  }
  const g = r.body.density;
  let c0 = g.cols, c1 = -1, r0 = g.rows, r1 = -1;
  for (let i = 0; i < g.counts.length; i++) {
    if (!g.counts[i]) continue;
    const c = i % g.cols, rr = Math.floor(i / g.cols);
    c0 = Math.min(c0, c); c1 = Math.max(c1, c); r0 = Math.min(r0, rr); r1 = Math.max(r1, rr);
  }
  const w = (g.bbox[2] - g.bbox[0]) / g.cols, h = (g.bbox[3] - g.bbox[1]) / g.rows;
  const lon0 = g.bbox[0] + c0 * w, lon1 = g.bbox[0] + (c1 + 1) * w;
  const lat1 = g.bbox[3] - r0 * h, lat0 = g.bbox[3] - (r1 + 1) * h;
  if (c1 - c0 <= 2 && r1 - r0 <= 2) {
    // Within a few degrees: zoom in on a finer grid of that area.
    const f = await call(`api/v1/map?bbox=${[lon0, lat0, lon1, lat1].join(',')}&max=1&grid=200,200`);
    if (f.ok && f.body.density) {
      const d = f.body.density;
      let a0 = d.cols, a1 = -1, b0 = d.rows, b1 = -1;
      for (let i = 0; i < d.counts.length; i++) {
        if (!d.counts[i]) continue;
        const c = i % d.cols, rr = Math.floor(i / d.cols);
        a0 = Math.min(a0, c); a1 = Math.max(a1, c); b0 = Math.min(b0, rr); b1 = Math.max(b1, rr);
      }
      const dw = (d.bbox[2] - d.bbox[0]) / d.cols, dh = (d.bbox[3] - d.bbox[1]) / d.rows;
      map.fit(d.bbox[0] + a0 * dw, d.bbox[3] - (b1 + 1) * dh, d.bbox[0] + (a1 + 1) * dw, d.bbox[3] - b0 * dh);
      return;
    }
  }
  map.fit(lon0, lat0, lon1, lat1);
}

// ---------- risks ----------
function sortedRisks() {
  const { key, dir } = state.sort;
  const list = Array.from(state.risks.values());
  const val = {
    risk: (r) => r.risk, tca: (r) => r.tca, dmin: (r) => r.dmin,
    pair: (r) => r.vehicle_a + ' ' + r.vehicle_b,
  }[key];
  list.sort((a, b) => {
    const x = val(a), y = val(b);
    if (x !== y) return (x < y ? -1 : 1) * dir;
    // Ties: the nearer miss, then the sooner one, first.
    return a.dmin - b.dmin || a.tca - b.tca || (a.id < b.id ? -1 : 1);
  });
  return list;
}

let listQueued = false, listLast = 0;
function queueList() {
  if (listQueued) return;
  listQueued = true;
  // At most 5 list updates a second, fewer when thousands of risks are open.
  const period = state.risks.size > 2000 ? 500 : 200;
  const wait = Math.max(0, period - (performance.now() - listLast));
  setTimeout(() => requestAnimationFrame(renderList), wait);
}
function renderList() {
  listQueued = false;
  listLast = performance.now();
  const list = sortedRisks();
  map.setRisks(list);
  const now = Date.now();
  // CPA times count from the engine's data clock (the wall clock for live
  // traffic, the recording's time for a replay).
  const clock = map.data.clock || now / 1000;
  $('#risk-count').textContent = `(${list.length})`;
  const sel = map.selected && map.selected.kind === 'risk' ? map.selected.risk.id : '';
  const rows = list.slice(0, MAX_ROWS).map((r) => {
    if (!state.firstShown.has(r.id)) state.firstShown.set(r.id, now);
    const dt = r.tca - clock;
    return `<tr data-id="${esc(r.id)}"${r.id === sel ? ' class="selected"' : ''}>` +
      `<td class="riskcell" style="color:${riskColor(r.risk)}">${r.risk.toFixed(2)}</td>` +
      `<td class="pair" title="${esc(r.vehicle_a)} – ${esc(r.vehicle_b)}">${esc(r.vehicle_a)} – ${esc(r.vehicle_b)}</td>` +
      `<td>${dt >= 0 ? '+' : ''}${dt.toFixed(0)} s</td><td>${fmtDist(r.dmin)}</td></tr>`;
  });
  $('#risks tbody').innerHTML = rows.join('');
  if (state.firstShown.size > 2 * MAX_ROWS + state.risks.size) {
    for (const id of state.firstShown.keys()) if (!state.risks.has(id)) state.firstShown.delete(id);
  }
  if (sel && state.risks.has(sel)) {
    map.selected.risk = state.risks.get(sel);
    // The history grows while the risk is open (and a store may write it a
    // moment after the event): re-read it every 2 s.
    showRiskDetail(map.selected.risk, performance.now() - eventsRead > 2000);
  }
  counts();
}

$('#risks thead').addEventListener('click', (e) => {
  const th = e.target.closest('th');
  if (!th) return;
  const key = th.dataset.sort;
  state.sort = state.sort.key === key ? { key, dir: -state.sort.dir } : { key, dir: key === 'risk' ? -1 : 1 };
  document.querySelectorAll('#risks th').forEach((h) => h.classList.remove('sorted', 'asc', 'desc'));
  th.classList.add('sorted', state.sort.dir < 0 ? 'desc' : 'asc');
  renderList();
});
$('#risks tbody').addEventListener('click', (e) => {
  const tr = e.target.closest('tr');
  if (tr) selectRisk(tr.dataset.id);
});

async function selectRisk(id) {
  const r = state.risks.get(id);
  if (!r) return;
  map.selected = { kind: 'risk', risk: r };
  map.pair = new Map();
  await refreshPair();
  const vs = Array.from(map.pair.values());
  if (vs.length === 2) {
    const lons = vs.map((v) => v.lon), lats = vs.map((v) => v.lat);
    const pad = 0.002;
    map.fit(Math.min(...lons) - pad, Math.min(...lats) - pad, Math.max(...lons) + pad, Math.max(...lats) + pad, 16);
  } else if (vs.length === 1) {
    map.setView(vs[0].lon, vs[0].lat, Math.max(map.zoom, 13));
  }
  showRiskDetail(r, true);
  renderList();
}

let eventsRead = 0;
async function showRiskDetail(r, fetchEvents) {
  const el = $('#detail');
  el.hidden = false;
  const tin = r.t_in ? new Date(r.t_in * 1000).toLocaleTimeString() : '–';
  const model = r.model ? `${r.model.name} ${r.model.version}` : '';
  const head = `<h3>risk <span style="color:${riskColor(r.risk)}">${r.risk.toFixed(2)}</span> · <span class="pairids">${esc(r.vehicle_a)} – ${esc(r.vehicle_b)}</span></h3>` +
    `<div class="kv"><span>closest approach</span><span>${fmtDist(r.dmin)} at ${new Date(r.tca * 1000).toLocaleTimeString()}</span>` +
    `<span>separation lost at</span><span>${tin}</span><span>model</span><span>${esc(model)}</span>` +
    `<span>open since</span><span>${new Date(r.opened_at * 1000).toLocaleTimeString()}</span><span>id</span><span>${esc(r.id)}</span></div>`;
  if (!fetchEvents) {
    const ev = el.querySelector('.events');
    el.innerHTML = head + (ev ? ev.outerHTML : '');
    el.dataset.risk = r.id;
    return;
  }
  const prev = el.dataset.risk === r.id ? el.querySelector('.events') : null;
  el.innerHTML = head + (prev ? prev.outerHTML : '<div class="events">loading history…</div>');
  el.dataset.risk = r.id;
  eventsRead = performance.now();
  const h = await call(`api/v1/risks/${encodeURIComponent(r.id)}`);
  if (el.dataset.risk !== r.id) return; // another risk was selected meanwhile
  const evs = h.ok ? h.body.events : [];
  const box = el.querySelector('.events');
  if (box) box.innerHTML = evs.length ? evs.slice(-50).reverse().map((e) =>
    `${new Date(e.time * 1000).toLocaleTimeString()} ${esc(e.type)} risk ${e.risk.toFixed(2)} d<sub>min</sub> ${fmtDist(e.dmin)}${e.reason ? ' (' + esc(e.reason) + ')' : ''}`).join('<br>') : 'no history';
}

async function selectVehicle(id) {
  map.selected = { kind: 'vehicle', id };
  map.pair = new Map();
  const v = await call(`api/v1/vehicles/${encodeURIComponent(id)}`);
  const el = $('#detail');
  el.hidden = false;
  if (!v.ok) { el.textContent = `${id}: ${v.status}`; return; }
  const x = v.body;
  map.setView(x.lon, x.lat, Math.max(map.zoom, 12));
  map.recordTrails();
  el.dataset.vehicle = id;
  delete el.dataset.risk;
  el.innerHTML = `<h3>vehicle ${esc(id)}</h3><div class="kv">` +
    `<span>position</span><span>${x.lat.toFixed(5)}, ${x.lon.toFixed(5)}, ${x.alt.toFixed(0)} m</span>` +
    `<span>velocity</span><span>${x.speed.toFixed(1)} m/s, track ${x.track.toFixed(0)}°, ${x.vrate.toFixed(1)} m/s vertical</span>` +
    `<span>class</span><span>${esc(x.class)} (${fmtDist(x.hsep)} / ${x.vsep.toFixed(0)} m)</span>` +
    `<span>last report</span><span>${new Date(x.t * 1000).toLocaleTimeString()}</span></div>` +
    '<div class="events">loading risk history…</div>';
  // Its stored track, when the server keeps one: the trail from before
  // the click (the page adds positions from then on).
  if (system.last && system.last.tracks) {
    const tr = await call(`api/v1/vehicles/${encodeURIComponent(id)}/track?from=${Math.floor(x.t - 3600)}&limit=1000`);
    if (tr.ok && map.selected && map.selected.id === id) map.setTrail(id, tr.body.points.map((p) => [p.lon, p.lat]));
  }
  const h = await call(`api/v1/risks/history?vehicle=${encodeURIComponent(id)}&limit=100`);
  const evs = h.ok ? h.body.events : [];
  const box = el.querySelector('.events');
  if (box) box.innerHTML = evs.length ? evs.slice().reverse().map((e) =>
    `${new Date(e.time * 1000).toLocaleTimeString()} ${esc(e.type)} with ${esc(e.vehicle_a === id ? e.vehicle_b : e.vehicle_a)} risk ${e.risk.toFixed(2)}`).join('<br>') : 'no risk events';
}

// ---------- the live stream ----------
async function follow() {
  let backoff = 500;
  for (;;) {
    const ctl = new AbortController();
    try {
      await stream('api/v1/risks/stream?snapshot=true', ctl.signal, onEvent, () => {
        state.connected = true; backoff = 500; conn();
      });
    } catch (e) {
      console.warn('cdp: risk stream:', e.message || e);
    }
    state.connected = false; conn();
    await new Promise((res) => setTimeout(res, backoff));
    backoff = Math.min(backoff * 2, 10000);
  }
}
function onEvent(type, data) {
  let d;
  try { d = JSON.parse(data); } catch { return; }
  switch (type) {
    case 'snapshot':
      state.risks.clear();
      for (const r of d.risks || []) state.risks.set(r.id, r);
      break;
    case 'opened':
      // A new risk between vehicles the map has not seen yet: fetch the two
      // at once so that its line is drawn now, not at the next map answer.
      if (!map.byId.has(d.vehicle_a) || !map.byId.has(d.vehicle_b)) fetchPair(d.vehicle_a, d.vehicle_b);
      // fall through
    case 'updated':
      state.risks.set(d.risk_id, {
        id: d.risk_id, vehicle_a: d.vehicle_a, vehicle_b: d.vehicle_b, risk: d.risk, time: d.time,
        tca: d.tca, dmin: d.dmin, t_in: d.t_in, opened_at: d.opened_at, seq: d.seq, model: d.model,
      });
      state.events++;
      state.latency.push(Math.max(0, (d.emitted - d.time) * 1000));
      if (state.latency.length > 5000) state.latency.splice(0, state.latency.length - 5000);
      break;
    case 'resolved':
      state.risks.delete(d.risk_id);
      state.events++;
      break;
    case 'dropped':
      // The server dropped events for this slow client: re-read the list.
      rereadRisks();
      break;
    default:
      return;
  }
  models.sawModel(d.model);
  queueList();
}
async function rereadRisks() {
  const fresh = new Map();
  let cursor = '';
  for (let page = 0; page < 1000; page++) {
    const r = await call(`api/v1/risks${cursor ? '?cursor=' + encodeURIComponent(cursor) : ''}`);
    if (!r.ok) return;
    for (const x of r.body.risks) fresh.set(x.id, x);
    cursor = r.body.next_cursor;
    if (!cursor) break;
  }
  state.risks = fresh;
  queueList();
}
function conn() {
  const c = $('#conn');
  c.textContent = state.connected ? 'live' : 'reconnecting…';
  c.className = 'badge ' + (state.connected ? 'live' : 'down');
}
function counts() {
  const s = system.last;
  $('#counts').textContent = (s ? `${s.vehicles.toLocaleString()} vehicles · ` : '') + `${state.risks.size} open risks`;
}

// ---------- tabs, token, panels ----------
document.querySelectorAll('#tabs button').forEach((b) => {
  b.onclick = () => {
    document.querySelectorAll('#tabs button, .tab').forEach((x) => x.classList.remove('active'));
    b.classList.add('active');
    $('#tab-' + b.dataset.tab).classList.add('active');
    system.resize();
  };
});
$('#token-btn').onclick = () => { $('#token-input').value = token(); $('#token-dialog').showModal(); };
$('#token-dialog').addEventListener('close', () => {
  if ($('#token-dialog').returnValue !== 'save') return;
  setToken($('#token-input').value);
  // Every panel starts again with the new token.
  location.reload();
});

const system = new SystemPanel(state);
const models = new ModelsPanel();

// A test and debugging surface: what the page shows, in numbers.
window.cdp = {
  map,
  view: () => ({ bbox: map.bbox(), zoom: map.zoom, w: map.w, h: map.h }),
  drawn: () => ({ drawn: map.drawn, bbox: map.drawnBBox, mode: map.data.mode, total: map.data.total, at: lastFetch }),
  riskOrder: () => Array.from(document.querySelectorAll('#risks tbody tr')).map((tr) => tr.dataset.id),
  firstShown: (id) => state.firstShown.get(id) || 0,
  lineDrawn: (id) => map.lineDrawn.get(id) || 0,
  frames: () => {
    const s = map.stats;
    const sorted = s.last.slice().sort((a, b) => a - b);
    return { frames: s.frames, meanMs: s.frames ? s.frameMsSum / s.frames : 0, maxMs: s.frameMsMax,
      p95Ms: sorted.length ? sorted[Math.floor(sorted.length * 0.95)] : 0 };
  },
  fetches: () => Object.assign({}, fetchStats),
  // The system charts' latest points (null: not measured in that second).
  charts: () => {
    const S = system.series, last = (a) => (a.length ? a[a.length - 1] : null);
    return { points: S.t.length, ingest: last(S.ingest), phases: S.phases.map(last), latencyP50: last(S.latP50),
      open: last(S.open), queue: last(S.queue) };
  },
  setView: (lon, lat, zoom) => map.setView(lon, lat, zoom),
  fitTraffic,
  selectRisk,
  selectVehicle,
  isAdmin: () => models.admin,
};

fetch('ui/world-50m.json').then((r) => r.json()).then((topo) => map.setWorld(topo))
  .catch((e) => console.warn('cdp: world map:', e));

// Start once the server says this client may read: with authentication on
// and no valid token, ask for one instead of polling into refusals.
(async function start() {
  const me = await call('api/v1/me');
  if (me.ok && !me.body.read) {
    const c = $('#conn');
    c.textContent = 'token needed';
    c.className = 'badge down';
    $('#role').textContent = 'no access';
    $('#role').title = me.body.reason || '';
    $('#map-status').textContent = `this server needs a bearer token with the read role (${me.body.reason || ''})`;
    $('#token-input').value = token();
    $('#token-dialog').showModal();
    return;
  }
  follow();
  system.start();
  models.probe();
  fitTraffic().finally(() => scheduleFetch(0));
})();
