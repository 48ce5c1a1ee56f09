// The models panel: the active predictor and scorer, the shadow comparison,
// and for admins upload, shadow, activate, roll back and delete, with the
// server's answer shown as it came. The admin controls are shown only when
// the server lets this client list the plugins and the token (if any) does
// not name a role without admin; the server refuses the calls anyway.

import { call } from './api.js';

const $ = (s) => document.querySelector(s);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const modelName = (m) => (m && m.name ? `${m.name} ${m.version || ''}`.trim() : '–');

export class ModelsPanel {
  constructor() {
    this.admin = false;
    this.plugins = [];
    this.latestModel = null;
    this.bind();
    setInterval(() => this.refresh(), 2000);
  }

  sawModel(m) {
    if (!m || !m.name) return;
    const prev = this.latestModel;
    this.latestModel = m;
    if (!prev || prev.name !== m.name || prev.version !== m.version || prev.sha256 !== m.sha256) this.renderActive();
  }

  async probe() {
    // GET /api/v1/me says whether the server would take this client's admin
    // calls; asking it (rather than trying an admin call) keeps a read-only
    // page free of refused requests.
    const me = await call('api/v1/me');
    this.me = me.ok ? me.body : null;
    this.admin = !!(this.me && this.me.admin);
    const r = this.admin ? await call('admin/plugins') : { ok: false };
    this.admin = this.admin && r.ok;
    const role = $('#role');
    const who = this.me && this.me.subject ? this.me.subject + ': ' : '';
    role.textContent = who + (this.admin ? 'admin' : this.me && !this.me.read ? 'no access' : 'read-only');
    role.title = this.me && this.me.reason ? this.me.reason : '';
    role.className = 'badge' + (this.admin ? ' admin' : '');
    $('#models-readonly').textContent = 'No plugin management here: ' + (this.me && this.me.reason ? this.me.reason : 'the server refuses it') + '.';
    $('#models-admin').hidden = !this.admin;
    $('#models-readonly').hidden = this.admin;
    if (this.admin) this.plugins = r.body.plugins || [];
    else this.plugins = [];
    this.refresh();
  }

  async refresh() {
    const st = await call('system/status');
    if (st.ok) this.status = st.body;
    if (this.admin) {
      const r = await call('admin/plugins');
      if (r.ok) this.plugins = r.body.plugins || [];
      else if (r.status === 401 || r.status === 403) { this.probe(); return; }
    }
    this.renderActive();
    this.renderPlugins();
  }

  renderActive() {
    const s = this.status;
    if (!s) return;
    const m = s.models || {};
    const p = s.plugins || null;
    let html = '<h3>Active models</h3><div class="kv">' +
      `<span>predictor</span><span id="active-predictor">${esc(modelName(m.predictor))}</span>` +
      `<span>scorer</span><span id="active-scorer">${esc(modelName(m.scorer))}</span>` +
      `<span>latest events by</span><span id="latest-model">${esc(modelName(this.latestModel))}</span>`;
    if (p) {
      html += `<span>in shadow</span><span>${p.shadow ? esc(p.shadow.name + ' ' + p.shadow.version) : '–'}</span>` +
        `<span>activations</span><span>${p.activations} (${p.auto_rollbacks} automatic rollbacks)</span>`;
      if (p.last_auto_rollback) html += `<span>last automatic rollback</span><span>${esc(JSON.stringify(p.last_auto_rollback))}</span>`;
    }
    html += '</div>';
    $('#models-active').innerHTML = html;
  }

  renderPlugins() {
    const shadowEl = $('#models-shadow');
    const sh = this.plugins.find((x) => x.shadow);
    if (sh) {
      const rep = sh.shadow;
      const total = rep.histogram.reduce((a, b) => a + b, 0) || 1;
      const maxN = Math.max(1, ...rep.histogram);
      shadowEl.innerHTML = `<h3>Shadow: ${esc(sh.name)} ${esc(sh.version)} vs the active scorer</h3>` +
        `<div class="kv"><span>pairs compared</span><span>${rep.pairs.toLocaleString()} in ${rep.batches} batches (share ${rep.share})</span>` +
        `<span>mean / max |Δrisk|</span><span>${rep.mean_diff.toFixed(4)} / ${rep.max_diff.toFixed(4)}</span>` +
        `<span>risks it would miss</span><span>${rep.crossing_active_only.toLocaleString()}</span>` +
        `<span>risks it would add</span><span>${rep.crossing_shadow_only.toLocaleString()}</span>` +
        `<span>ns/pair active / shadow</span><span>${rep.ns_per_pair_active.toFixed(0)} / ${rep.ns_per_pair_shadow.toFixed(0)}</span></div>` +
        '<div style="margin-top:6px;color:var(--dim)">|Δrisk| histogram (share of pairs)</div>' +
        `<div class="hist">${rep.histogram.map((n) => `<div title="${n} pairs (${(100 * n / total).toFixed(1)}%)" style="height:${(100 * n / maxN).toFixed(1)}%"></div>`).join('')}</div>` +
        `<div class="histlabels">${rep.histogram.map((_, i) => `<span>≤${i < rep.buckets.length ? rep.buckets[i] : 1}</span>`).join('')}</div>`;
    } else {
      shadowEl.innerHTML = this.admin ? '<h3>Shadow</h3><div>no plugin in shadow</div>' : '';
    }
    if (!this.admin) return;
    $('#plugins tbody').innerHTML = this.plugins.map((p) => {
      const id = esc(p.id);
      const active = p.active_as && p.active_as.length;
      const scorer = p.kind.includes('scorer');
      return `<tr data-id="${id}"><td title="${id}">${esc(p.name)} ${esc(p.version)}</td><td>${esc(p.kind)}</td>` +
        `<td>${esc(p.state)}${active ? ' (' + esc(p.active_as.join(', ')) + ')' : ''}</td><td class="row">` +
        (active ? '' : `<button type="button" data-act="activate">Activate</button>`) +
        (scorer && !active ? (p.shadow ? `<button type="button" data-act="unshadow">Stop shadow</button>` : `<button type="button" data-act="shadow">Shadow</button>`) : '') +
        (active ? '' : `<button type="button" data-act="delete">Delete</button>`) + '</td></tr>';
    }).join('') || '<tr><td colspan="4">no plugins uploaded</td></tr>';
  }

  show(r, what) {
    const el = $('#admin-answer');
    el.className = r.ok ? 'ok' : 'err';
    const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body, null, 2);
    el.textContent = `${what}: ${r.status} ${r.statusText || ''}\n${body}`;
    this.refresh();
  }

  bind() {
    $('#plugins').addEventListener('click', async (e) => {
      const b = e.target.closest('button[data-act]');
      if (!b) return;
      const id = b.closest('tr').dataset.id;
      const act = b.dataset.act;
      const path = `admin/plugins/${encodeURIComponent(id)}`;
      const json = { 'Content-Type': 'application/json' };
      let r;
      switch (act) {
        case 'activate': r = await call(path + '/activate', { method: 'POST' }); break;
        case 'shadow': r = await call(path + '/shadow', { method: 'POST', headers: json, body: '{}' }); break;
        case 'unshadow': r = await call(path + '/shadow', { method: 'POST', headers: json, body: '{"stop":true}' }); break;
        case 'delete':
          if (!confirm(`Delete plugin ${id}?`)) return;
          r = await call(path, { method: 'DELETE' });
          break;
        default: return;
      }
      this.show(r, `${act} ${id.slice(0, 12)}`);
    });
    $('#upload-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const f = $('#upload-file').files[0];
      if (!f) return;
      const kind = $('#upload-kind').value;
      const r = await call(`admin/plugins?kind=${encodeURIComponent(kind)}`, {
        method: 'POST', headers: { 'Content-Type': 'application/wasm' }, body: await f.arrayBuffer(),
      });
      this.show(r, `upload ${f.name}`);
    });
    for (const kind of ['scorer', 'predictor']) {
      $(`#rollback-${kind}`).addEventListener('click', async () => {
        const r = await call('admin/plugins/rollback', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ kind }) });
        this.show(r, `rollback ${kind}`);
      });
    }
  }
}
