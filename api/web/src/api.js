// The page's only way to the server: the public API, with the bearer token
// the user pasted (kept in sessionStorage: this tab only, gone when it closes).

const TOKEN_KEY = 'cdp.token';

export function token() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(t) {
  t = (t || '').trim().replace(/^Bearer\s+/i, '');
  if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

// call fetches path and answers {status, ok, body}: body is the parsed JSON
// when the answer is JSON, else its text. Network errors answer status 0.
export async function call(path, opts = {}) {
  let resp;
  try {
    resp = await fetch(path, Object.assign({}, opts, { headers: headers(opts.headers) }));
  } catch (e) {
    return { status: 0, ok: false, statusText: 'network error', body: { error: String(e) } };
  }
  const ct = resp.headers.get('Content-Type') || '';
  let body;
  if (ct.includes('json')) {
    try { body = await resp.json(); } catch { body = null; }
  } else {
    body = await resp.text();
  }
  return { status: resp.status, ok: resp.ok, statusText: resp.statusText, body };
}

// stream reads a Server-Sent Events endpoint with fetch (EventSource cannot
// send an Authorization header) and calls onEvent(type, data, id) for each
// event; it resolves when the stream ends and rejects on errors.
export async function stream(path, signal, onEvent, onOpen) {
  const resp = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal, cache: 'no-store' });
  if (!resp.ok) {
    const text = await resp.text().catch(() => '');
    throw new Error(`${resp.status} ${text}`);
  }
  if (onOpen) onOpen();
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let ev = { type: 'message', data: [], id: '' };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (ev.data.length) onEvent(ev.type, ev.data.join('\n'), ev.id);
        ev = { type: 'message', data: [], id: '' };
        continue;
      }
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let val = i < 0 ? '' : line.slice(i + 1);
      if (val.startsWith(' ')) val = val.slice(1);
      if (field === 'event') ev.type = val;
      else if (field === 'data') ev.data.push(val);
      else if (field === 'id') ev.id = val;
    }
  }
}
