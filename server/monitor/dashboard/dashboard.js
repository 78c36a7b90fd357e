// dashboard.js: polls the monitoring endpoints of the instance that served the page and draws
// the pair, per-channel message rates (from successive last_seq readings), subscriptions and
// the store (commit latency from /metrics' histogram deltas). Plain script, no library: the
// page is served from the binary under "default-src 'self'" and may load nothing else.
// Rules: text goes in with textContent only (names come from clients); inboxes are never asked
// for; when a poll fails the page says so and keeps the last data greyed.
'use strict';

const POLL_MS = 1500;
const HISTORY_MS = 5 * 60 * 1000;
const TIMEOUT_MS = 4000;

const history = new Map();  // channel -> [{t, seq}]
const takeoverEvents = [];  // {t, text}, newest first, seen while the page is open
let lastMetrics = null;     // {t, sum, count, buckets: [[le, n]]}
let lastRole = null;        // {name, epoch, takeovers, active}
let lastOk = 0;

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el('td', c));
  return tr;
}

function fill(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(...rows);
  if (rows.length === 0) {
    const td = el('td', emptyText, 'meta');
    td.colSpan = columns;
    tbody.appendChild(row([td]));
  }
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}

function seconds(s) {
  if (!isFinite(s)) return '–';
  if (s < 1e-3) return (s * 1e6).toFixed(0) + ' µs';
  if (s < 1) return (s * 1e3).toFixed(1) + ' ms';
  return s.toFixed(2) + ' s';
}

function clock(t) { return new Date(t).toLocaleTimeString(); }

async function get(path, asText) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    const r = await fetch(path, {cache: 'no-store', signal: ctl.signal});
    const body = await r.text();
    if (!r.ok) return {ok: false, status: r.status, text: body.trim()};
    return {ok: true, data: asText ? body : JSON.parse(body)};
  } finally {
    clearTimeout(timer);
  }
}

// ---- the pair ----------------------------------------------------------------------------

function roleCell(role) {
  const name = String(role || '?').toUpperCase();
  return el('td', name, 'role role-' + name);
}

function renderPair(z) {
  $('cluster').textContent = z.cluster_id + (z.ft_group ? ' · group ' + z.ft_group : '');
  const rows = [row([el('td', (z.name || '(unnamed)') + ' (this page)', 'name'), roleCell(z.role),
                     z.epoch, '–', el('td', z.healthy ? z.state : z.state + ', unhealthy',
                                      z.healthy ? '' : 'bad')])];
  const peers = (z.standbys || []).slice();
  if (z.active) peers.unshift(z.active);
  for (const p of peers) {
    rows.push(row([el('td', p.name, 'name'), roleCell(p.role), p.epoch,
                   (p.heartbeat_age_ms / 1000).toFixed(1) + ' s',
                   el('td', p.alive ? 'heard' : 'silent', p.alive ? '' : 'bad')]));
  }
  fill($('pair').tBodies[0], rows, '', 5);
  noteTakeovers(z);
  $('takeovers').textContent =
      'This member became active ' + z.takeovers + ' time' + (z.takeovers === 1 ? '' : 's') +
      ' since it started at ' + new Date(z.start_time).toLocaleString() +
      (z.last_takeover ? '; the latest at ' + new Date(z.last_takeover).toLocaleString() : '') +
      (z.ft_group && z.role === 'active' && !(z.standbys || []).some((s) => s.alive)
           ? '. No standby is heard: the pair is degraded.' : '.');
  $('takeover-list').replaceChildren(...takeoverEvents.slice(0, 10).map(
      (e) => el('li', clock(e.t) + ': ' + e.text)));
}

// A takeover shows as a new epoch, a new active, or this member's count growing.
function noteTakeovers(z) {
  const active = z.role === 'active' ? z.name : (z.active ? z.active.name : '');
  const epoch = z.role === 'active' ? z.epoch : (z.active ? z.active.epoch : z.epoch);
  const now = Date.now();
  if (lastRole) {
    if (z.takeovers > lastRole.takeovers) {
      takeoverEvents.unshift({t: now, text: (z.name || 'this member') + ' took over (epoch ' + epoch + ')'});
    } else if (active && (active !== lastRole.active || epoch !== lastRole.epoch)) {
      takeoverEvents.unshift({t: now, text: active + ' is the active (epoch ' + epoch + ')'});
    }
  }
  lastRole = {takeovers: z.takeovers, active, epoch};
}

// ---- channels and subscriptions ----------------------------------------------------------

function spark(points) {
  const w = 120, h = 20;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  svg.setAttribute('preserveAspectRatio', 'none');
  const base = document.createElementNS(svg.namespaceURI, 'line');
  base.setAttribute('x1', 0); base.setAttribute('x2', w);
  base.setAttribute('y1', h - 0.5); base.setAttribute('y2', h - 0.5);
  svg.appendChild(base);
  if (points.length > 1) {
    // The x axis spans the readings kept (at most HISTORY_MS), ending now.
    const now = Date.now();
    const span = Math.max(POLL_MS, Math.min(HISTORY_MS, now - points[0].t));
    const max = Math.max(1, ...points.map((p) => p.rate));
    const line = document.createElementNS(svg.namespaceURI, 'polyline');
    line.setAttribute('points', points.map((p) =>
        Math.max(0, w - (now - p.t) / span * w).toFixed(1) + ',' +
        (h - 1 - p.rate / max * (h - 2)).toFixed(1)).join(' '));
    svg.appendChild(line);
  }
  const title = document.createElementNS(svg.namespaceURI, 'title');
  title.textContent = 'messages/s, peak ' +
      (points.length ? Math.max(...points.map((p) => p.rate)).toFixed(1) : '0');
  svg.appendChild(title);
  return svg;
}

// Rates between successive readings of a channel's last_seq.
function rates(samples) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    if (dt > 0) out.push({t: samples[i].t, rate: Math.max(0, samples[i].seq - samples[i - 1].seq) / dt});
  }
  return out;
}

function renderChannels(list, now) {
  const seen = new Set();
  const rows = [];
  for (const c of list) {
    seen.add(c.name);
    const h = history.get(c.name) || [];
    h.push({t: now, seq: c.last_seq});
    while (h.length && now - h[0].t > HISTORY_MS) h.shift();
    history.set(c.name, h);
    const r = rates(h);
    const tr = row([el('td', c.name, 'name'), el('td', c.msgs, 'num'), el('td', bytes(c.bytes), 'num opt'),
                    el('td', c.last_seq, 'num opt'),
                    el('td', r.length ? r[r.length - 1].rate.toFixed(1) + '/s' : '…', 'num')]);
    const td = el('td', null, 'chart');
    td.appendChild(spark(r));
    tr.appendChild(td);
    tr.dataset.channel = c.name;
    rows.push(tr);
  }
  for (const name of [...history.keys()]) if (!seen.has(name)) history.delete(name);
  fill($('channels').tBodies[0], rows, 'no channels', 6);
}

function renderSubs(list) {
  const rows = [];
  let pending = 0, stalled = 0;
  for (const c of list) {
    for (const s of c.subscriptions || []) {
      pending += s.pending_count;
      stalled += s.is_stalled ? 1 : 0;
      const kind = [s.durable_name, s.queue_name].filter(Boolean).join(' / ') ||
                   (s.is_durable ? 'durable' : '–');
      const tr = row([el('td', c.name, 'name'), el('td', s.client_id + (s.is_offline ? ' (offline)' : ''), 'name'),
                      el('td', kind, 'name'), el('td', s.pending_count, 'num'),
                      el('td', s.max_inflight, 'num opt'),
                      el('td', s.is_stalled ? 'STALLED' : 'no', s.is_stalled ? 'bad' : '')]);
      tr.dataset.channel = c.name;
      rows.push(tr);
    }
  }
  fill($('subs').tBodies[0], rows, 'no subscriptions', 6);
  $('subs-total').textContent = rows.length + ' subscriptions, ' + pending +
      ' messages pending acknowledgement, ' + stalled + ' stalled (at MaxInflight)';
}

// ---- the store ---------------------------------------------------------------------------

// The commit histogram from the Prometheus text: cumulative buckets, sum and count.
function parseCommits(text) {
  const m = {sum: 0, count: 0, buckets: []};
  for (const line of text.split('\n')) {
    if (!line.startsWith('tandem_store_commit_seconds')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const le = /le="([^"]+)"/.exec(line);
    if (le) m.buckets.push([Number(le[1]), value]);  // "+Inf" reads as Infinity
    else if (line.startsWith('tandem_store_commit_seconds_sum')) m.sum = value;
    else if (line.startsWith('tandem_store_commit_seconds_count')) m.count = value;
  }
  return m;
}

function renderStore(storez, clients, metricsText, now) {
  $('store-msgs').textContent = storez.total_msgs.toLocaleString();
  $('store-bytes').textContent = bytes(storez.total_bytes);
  // The store file on disk and its free pages (given back by the idle vacuum).
  $('store-file').textContent = storez.file_bytes === undefined ? '\u2013'
      : bytes(storez.file_bytes) + ' (' + storez.free_pages.toLocaleString() + ' free pages)';
  // Deleted channels whose messages the store still reclaims in steps (storez reclaim).
  const rc = storez.reclaim;
  $('store-reclaim').textContent = rc === undefined ? '\u2013'
      : rc.channels === 0 ? 'none left to reclaim'
      : rc.channels.toLocaleString() + ' reclaiming, ' + rc.rows_left.toLocaleString()
          + ' messages left';
  $('store-clients').textContent = clients;
  if (metricsText === null) return;
  const m = parseCommits(metricsText);
  m.t = now;
  const prev = lastMetrics;
  lastMetrics = m;
  if (!prev || m.count < prev.count) return;
  const n = m.count - prev.count;
  $('commit-rate').textContent = (n / ((m.t - prev.t) / 1000)).toFixed(1);
  if (n === 0) return;  // no commit since the last poll: keep the last latency
  $('commit-avg').textContent = seconds((m.sum - prev.sum) / n);
  // The 99th percentile of this interval: the first bucket holding 99% of its commits.
  for (let i = 0; i < m.buckets.length; i++) {
    const before = prev.buckets[i] ? prev.buckets[i][1] : 0;
    if (m.buckets[i][1] - before >= 0.99 * n) {
      $('commit-p99').textContent = '≤ ' + seconds(m.buckets[i][0]);
      break;
    }
  }
}

// ---- polling -----------------------------------------------------------------------------

function setStatus(text, cls) {
  const s = $('status');
  s.textContent = text;
  s.className = 'status ' + cls;
}

async function poll() {
  const now = Date.now();
  try {
    const z = await get('/streaming/serverz');
    if (!z.ok) throw new Error('/streaming/serverz answered ' + z.status);
    const [chans, store, clients, metrics] = await Promise.all([
      get('/streaming/channelsz?subs=1'), get('/streaming/storez'), get('/streaming/clientsz'),
      get('/metrics', true)]);
    renderPair(z.data);
    if (chans.ok && store.ok) {
      renderChannels(chans.data.channels || [], now);
      renderSubs(chans.data.channels || []);
      renderStore(store.data, clients.ok ? clients.data.total : '–', metrics.ok ? metrics.data : null, now);
      $('channels-card').hidden = $('subs-card').hidden = $('store-card').hidden = false;
    } else {
      // A standby answers 503 here: its own page shows the pair; the active shows the rest.
      $('channels-card').hidden = $('subs-card').hidden = $('store-card').hidden = true;
    }
    lastOk = now;
    document.body.classList.remove('stale');
    setStatus('updated ' + clock(now) + (z.data.role === 'active' ? '' :
        ' · this member is ' + String(z.data.role).toUpperCase() + ': channels and store are on the active'), 'ok');
  } catch (err) {
    document.body.classList.add('stale');
    const why = err && err.name === 'AbortError' ? 'no answer within ' + TIMEOUT_MS / 1000 + ' s' : String(err.message || err);
    setStatus('poll failed at ' + clock(now) + ' (' + why + ')' +
        (lastOk ? '; showing data from ' + clock(lastOk) : '; no data yet'), 'failed');
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
