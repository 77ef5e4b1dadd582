// Agora web UI: a single-page app on the master's `/state` (polled every
// second), `/policy`, `/policy/explain` and the sandbox endpoints
// `/agents/{id}/files/{browse,read,download}`. Hash routing gives every page
// a URL: #/, #/agents, #/agents/ID, #/frameworks, #/frameworks/ID, #/roles,
// #/tasks, #/tasks/FRAMEWORK/TASK, #/policy. Pages build their skeleton once
// and update cells in place; values from the cluster only reach the page
// through text nodes (see tables.js).
'use strict';

const POLL_MS = 1000;
const FETCH_TIMEOUT_MS = 4000;
const HISTORY_MS = 10 * 60 * 1000;
const FAILED_STATES = new Set(['TASK_FAILED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_UNREACHABLE']);
const ACTIVE_STATES = new Set(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING']);

// ---------------------------------------------------------------- formatting

const GiB = 1024 * 1024 * 1024, MiB = 1024 * 1024;

function fmtBytes(b) {
  if (b === undefined || b === null) return '';
  if (Math.abs(b) >= GiB) return (b / GiB).toFixed(b % GiB ? 1 : 0) + ' GiB';
  if (Math.abs(b) >= MiB) return (b / MiB).toFixed(b % MiB ? 1 : 0) + ' MiB';
  if (Math.abs(b) >= 1024) return (b / 1024).toFixed(1) + ' KiB';
  return b + ' B';
}
function fmtCpus(c) { return c === undefined ? '' : String(Math.round(c * 100) / 100); }
function fmtPct(f) { return isFinite(f) ? (f * 100).toFixed(1) + '%' : '–'; }
function fmtTime(sec) { return sec > 0 ? new Date(sec * 1000).toLocaleString() : ''; }
function ratio(a, b) { return b > 0 ? a / b : 0; }
function rack(agent) { return (agent.attributes && agent.attributes.rack) || '(no rack)'; }
function resourceLine(r) {
  if (!r) return '';
  const parts = [`cpus ${fmtCpus(r.cpus)}`, `mem ${fmtBytes(r.mem)}`, `disk ${fmtBytes(r.disk)}`];
  if (r.gpus) parts.push(`gpus ${r.gpus}`);
  if (r.ports && r.ports.length) parts.push(`ports ${r.ports.map(p => p.begin === p.end ? p.begin : `${p.begin}-${p.end}`).join(',')}`);
  return parts.join(', ');
}
/** Formats a guarantee, limit or headroom (null fields: none); '' if all are null. */
function boundLine(r) {
  if (!r) return '';
  const fmt = {cpus: fmtCpus, mem: fmtBytes, disk: fmtBytes, gpus: String};
  return Object.entries(r).filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k} ${(fmt[k] || String)(v)}`).join(', ');
}
function idle(total, used, offered, k) { return Math.max(0, (total[k] || 0) - (used[k] || 0) - (offered[k] || 0)); }
function enc(s) { return encodeURIComponent(s); }
function stateBadge(state) {
  const cls = FAILED_STATES.has(state) ? 'bg-danger' : state === 'TASK_RUNNING' ? 'bg-success'
      : state === 'TASK_FINISHED' ? 'bg-secondary' : state === 'TASK_KILLED' ? 'bg-dark' : 'bg-info text-dark';
  return el('span', {class: 'badge ' + cls, 'data-role': 'state'}, state);
}
function setBadge(td, state) {
  const b = td.firstChild;
  if (b && b.textContent === state) return;
  td.textContent = '';
  td.appendChild(stateBadge(state));
}
function sandboxPath(task) { return `frameworks/${task.framework_id}/tasks/${task.id}`; }
function fileUrl(agentId, op, params) {
  const q = Object.entries(params).map(([k, v]) => `${k}=${enc(v)}`).join('&');
  return `/agents/${enc(agentId)}/files/${op}?${q}`;
}

// ---------------------------------------------------------------- fetching

/** Fetches `url` as JSON with a bound; never follows a redirect (a standby
 *  answers 307 to another origin). Resolves to {status, body, redirect};
 *  rejects on network errors and timeouts. */
async function getJSON(url) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  try {
    const res = await fetch(url, {redirect: 'manual', cache: 'no-store', signal: ctl.signal});
    if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400))
      return {status: 307, redirect: true, body: null};
    let body = null;
    const text = await res.text();
    try { body = JSON.parse(text); } catch (e) { body = {error: text.slice(0, 200)}; }
    return {status: res.status, body};
  } finally {
    clearTimeout(timer);
  }
}

/** POSTs an operator action; returns {status, body} like getJSON. */
async function postJSON(url) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  try {
    const res = await fetch(url, {method: 'POST', redirect: 'manual', cache: 'no-store', signal: ctl.signal});
    if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400))
      return {status: 307, body: {error: 'this master is a standby; open the leader\'s UI'}};
    const text = await res.text();
    let body = null;
    try { body = JSON.parse(text); } catch (e) { body = {error: text.slice(0, 200)}; }
    return {status: res.status, body};
  } finally {
    clearTimeout(timer);
  }
}

/** An operator action behind a two-step button: the first click asks
 *  "really?", the second POSTs to `url()`; the master's answer is shown
 *  next to it. `enabled()` says whether it applies now. */
class OperatorAction {
  constructor(container, {id, label, confirm, url, done}) {
    this.url = url; this.done = done; this.label = label;
    this.node = container.appendChild(el('div', {class: 'd-flex align-items-center gap-2 mb-2', 'data-role': id}));
    this.button = this.node.appendChild(el('button', {class: 'btn btn-sm btn-outline-danger', 'data-action': id, text: label}));
    this.confirm = this.node.appendChild(el('button', {class: 'btn btn-sm btn-danger d-none', 'data-action': `${id}-confirm`, text: confirm}));
    this.cancel = this.node.appendChild(el('button', {class: 'btn btn-sm btn-outline-secondary d-none', text: 'Cancel'}));
    this.result = this.node.appendChild(el('span', {class: 'small', 'data-role': `${id}-result`}));
    this.button.addEventListener('click', () => this.ask(true));
    this.cancel.addEventListener('click', () => this.ask(false));
    this.confirm.addEventListener('click', () => this.run());
  }
  ask(on) {
    this.button.classList.toggle('d-none', on);
    this.confirm.classList.toggle('d-none', !on);
    this.cancel.classList.toggle('d-none', !on);
  }
  setEnabled(on) {
    if (this.button.disabled === !on) return;
    this.button.disabled = !on;
    if (!on) this.ask(false);
  }
  async run() {
    this.ask(false);
    this.button.disabled = true;
    setText(this.result, 'asking the master…');
    try {
      const r = await postJSON(this.url());
      const ok = r.status >= 200 && r.status < 300;
      this.result.className = `small ${ok ? 'text-success' : 'text-danger'}`;
      setText(this.result, ok ? this.done(r.body) : `${r.status}: ${(r.body && r.body.error) || 'refused'}`);
    } catch (e) {
      this.result.className = 'small text-danger';
      setText(this.result, 'the master cannot be reached');
    }
    this.button.disabled = false;
  }
}

// ---------------------------------------------------------------- live state

const app = {
  state: null,       // the last `/state` answered
  lastOk: 0,         // when (ms) it was answered
  failingSince: 0,   // when polling started failing (ms), 0 while fine
  history: [],       // [{t, cpu, mem, disk, running, launched}], last HISTORY_MS
  page: null,
  listeners: new Set(),
};

function recordHistory(s) {
  const t = Date.now();
  const c = s.cluster || {};
  let running = 0;
  for (const f of s.frameworks || []) for (const task of f.tasks || []) if (task.state === 'TASK_RUNNING') running++;
  app.history.push({t, cpu: ratio(c.used.cpus, c.total.cpus), mem: ratio(c.used.mem, c.total.mem),
                    running, launched: (s.counters || {}).tasks_launched || 0});
  while (app.history.length && app.history[0].t < t - HISTORY_MS) app.history.shift();
}

/** Launches per minute between successive samples (over >= 10 s). */
function launchRate() {
  const h = app.history, out = [];
  let j = 0;
  for (let i = 1; i < h.length; i++) {
    while (j < i && h[i].t - h[j + 1].t >= 10000) j++;
    const dt = (h[i].t - h[j].t) / 60000;
    if (dt > 0) out.push({t: new Date(h[i].t), v: Math.max(0, h[i].launched - h[j].launched) / dt});
  }
  return out;
}

function showBanner(kind, parts) {
  const b = document.getElementById('banner');
  b.className = `alert alert-${kind} rounded-0 mb-0 py-2`;
  b.textContent = '';
  for (const p of parts) b.appendChild(p instanceof Node ? p : document.createTextNode(p));
  document.body.classList.add('stale');
  const badge = document.getElementById('conn-badge');
  badge.className = 'badge ms-2 bg-danger';
  badge.textContent = 'stale';
}

function hideBanner() {
  const b = document.getElementById('banner');
  b.className = 'alert d-none';
  b.textContent = '';
  document.body.classList.remove('stale');
  const badge = document.getElementById('conn-badge');
  badge.className = 'badge ms-2 bg-success';
  badge.textContent = 'live';
}

function staleSuffix() {
  return app.lastOk ? ` The data shown is stale: last updated ${new Date(app.lastOk).toLocaleTimeString()}.`
                    : ' No data yet.';
}

async function standbyBanner() {
  let leader = '';
  try {
    const h = await getJSON('/health');
    leader = (h.body && h.body.leader) || '';
  } catch (e) { /* the banner says so without a leader */ }
  if (leader) {
    showBanner('warning', ['This master is a standby; the leader is at ' + leader + ': ',
                           el('a', {href: `http://${leader}/${location.hash}`, class: 'alert-link'}, 'open its UI'),
                           '.' + staleSuffix()]);
  } else {
    showBanner('warning', ['This master is a standby and knows no leader.' + staleSuffix()]);
  }
}

async function poll() {
  try {
    const r = await getJSON('/state');
    if (r.redirect) {
      await standbyBanner();
    } else if (r.status === 503) {
      showBanner('warning', ['No master leads at the moment (503' +
                             (r.body && r.body.error ? ': ' + r.body.error : '') + '); retrying.' + staleSuffix()]);
    } else if (r.status !== 200) {
      showBanner('danger', [`The master answered /state with ${r.status}` +
                            (r.body && r.body.error ? ': ' + r.body.error : '') + '.' + staleSuffix()]);
    } else {
      app.state = r.body;
      app.lastOk = Date.now();
      app.failingSince = 0;
      recordHistory(r.body);
      hideBanner();
      const s = r.body;
      setText(document.getElementById('master-meta'),
              `${s.hostname || ''} · ${s.http_address || ''} · ${s.election ? s.election.state : ''}`);
      if (app.page && app.page.update) app.page.update(s);
    }
  } catch (e) {
    if (!app.failingSince) app.failingSince = Date.now();
    const secs = Math.round((Date.now() - app.failingSince) / 1000);
    showBanner('danger', [`Cannot reach the master at ${location.host} (for ${secs} s): ` +
                          (e.name === 'AbortError' ? 'no answer in time' : 'connection failed') + '.' + staleSuffix()]);
  }
  setTimeout(poll, POLL_MS);
}

// ---------------------------------------------------------------- helpers on state

function allTasks(s) {
  const names = new Map((s.completed_frameworks || []).concat(s.frameworks || []).map(f => [f.id, f.name]));
  const active = [];
  for (const f of s.frameworks || []) for (const t of f.tasks || []) active.push({...t, framework_name: f.name, completed: false});
  const completed = (s.completed_tasks || []).map(t => ({...t, framework_name: names.get(t.framework_id) || '', completed: true}));
  return active.concat(completed);
}

function taskKey(t) { return `${t.completed ? 'c' : 'a'}/${t.framework_id}/${t.id}/${t.timestamp}`; }

function taskColumns(opts) {
  const cols = [
    {key: 'id', title: 'Task', value: t => t.id, render: (td, t) => setLink(td, `#/tasks/${enc(t.framework_id)}/${enc(t.id)}`, t.id)},
    {key: 'name', title: 'Name', value: t => t.name},
    {key: 'state', title: 'State', value: t => t.state, render: (td, t) => setBadge(td, t.state)},
  ];
  if (!opts || !opts.noFramework)
    cols.push({key: 'framework', title: 'Framework', value: t => t.framework_name,
               render: (td, t) => setLink(td, `#/frameworks/${enc(t.framework_id)}`, t.framework_name || t.framework_id)});
  if (!opts || !opts.noAgent)
    cols.push({key: 'agent', title: 'Agent', value: t => t.agent_id,
               render: (td, t) => setLink(td, `#/agents/${enc(t.agent_id)}`, t.agent_id)});
  cols.push(
    {key: 'role', title: 'Role', value: t => t.role},
    {key: 'cpus', title: 'CPUs', num: true, value: t => t.resources.cpus, format: fmtCpus},
    {key: 'mem', title: 'Mem', num: true, value: t => t.resources.mem, format: fmtBytes},
    {key: 'time', title: 'Updated', num: true, value: t => t.timestamp, format: fmtTime});
  if (opts && opts.sandbox)
    cols.push({key: 'sandbox', title: 'Sandbox', value: t => '',
               render: (td, t) => setLink(td, `#/tasks/${enc(t.framework_id)}/${enc(t.id)}`, 'sandbox')});
  return cols;
}

function failedClass(t) { return FAILED_STATES.has(t.state) ? 'table-danger failed' : ''; }

function resourceTable(container, id) {
  const t = new LiveTable(container, {
    id, pageSize: 25,
    columns: [
      {key: 'name', title: 'Resource', value: r => r.name},
      {key: 'total', title: 'Total', num: true, value: r => r.total, format: (v, r) => r.fmt(v)},
      {key: 'used', title: 'Used', num: true, value: r => r.used, format: (v, r) => r.fmt(v)},
      {key: 'offered', title: 'Offered', num: true, value: r => r.offered, format: (v, r) => r.fmt(v)},
      {key: 'idle', title: 'Idle', num: true, value: r => r.idle, format: (v, r) => r.fmt(v)},
      {key: 'util', title: 'Allocated', value: r => ratio(r.used, r.total),
       render: (td, r) => setBar(td, r.used, r.total, fmtPct(ratio(r.used, r.total)))},
    ],
    rowKey: r => r.name, fixedOrder: true,
  });
  // The toolbar is of no use on four rows.
  t.search.parentNode.classList.add('d-none');
  return {
    set(total, used, offered) {
      const rows = [['cpus', fmtCpus], ['mem', fmtBytes], ['disk', fmtBytes], ['gpus', String]].map(([k, fmt], i) => ({
        name: k, order: i, fmt, total: total[k] || 0, used: used[k] || 0, offered: offered[k] || 0,
        idle: idle(total, used, offered, k)}));
      t.setRows(rows);
    },
  };
}

function section(main, title, id) {
  const s = main.appendChild(el('section', {id}));
  if (title) s.appendChild(el('h2', {}, title));
  return s;
}

function notFound(main, what) {
  const p = el('div', {class: 'alert alert-secondary', 'data-role': 'not-found'}, what);
  main.appendChild(p);
  return p;
}

// ---------------------------------------------------------------- pages

const pages = {};

pages.overview = {
  mount(main) {
    main.appendChild(el('h1', {class: 'h4'}, 'Cluster overview'));
    this.cards = el('div', {class: 'row g-2', id: 'overview-cards'});
    main.appendChild(this.cards);
    this.cardValues = {};
    for (const [k, label] of [['agents', 'Agents active / total'], ['frameworks', 'Frameworks active / total'],
                              ['running', 'Tasks running'], ['staging', 'Tasks starting'],
                              ['finished', 'Tasks finished'], ['failed', 'Tasks failed / lost'],
                              ['killed', 'Tasks killed'], ['offers', 'Outstanding offers']]) {
      const v = el('div', {class: 'value', 'data-stat': k});
      this.cardValues[k] = v;
      this.cards.appendChild(el('div', {class: 'col-6 col-md-3 col-xl'},
          el('div', {class: 'card stat-card'}, el('div', {class: 'card-body py-2'}, v, el('div', {class: 'label'}, label)))));
    }
    const res = section(main, 'Resources', 'overview-resources');
    this.res = resourceTable(res, 'resources');
    const charts = section(main, 'Last minutes (kept in this browser)', 'overview-charts');
    const row = charts.appendChild(el('div', {class: 'row'}));
    const col = title => { const c = row.appendChild(el('div', {class: 'col-md-4'})); c.appendChild(el('h3', {}, title)); return c; };
    this.cpuChart = new LineChart(col('CPU allocation (used / total)'), {max: 1, format: d3.format('.0%')});
    this.runChart = new LineChart(col('Tasks running'), {});
    this.rateChart = new LineChart(col('Launch rate (per minute)'), {});
    const states = section(main, 'Tasks by state', 'overview-states');
    this.states = new LiveTable(states, {
      id: 'task-states', pageSize: 25,
      columns: [{key: 'state', title: 'State', value: r => r.state, render: (td, r) => setBadge(td, r.state)},
                {key: 'count', title: 'Tasks', num: true, value: r => r.count}],
      rowKey: r => r.state});
    this.states.search.parentNode.classList.add('d-none');
  },
  update(s) {
    const agents = s.agents || [], fws = s.frameworks || [];
    const counts = {};
    for (const t of allTasks(s)) counts[t.state] = (counts[t.state] || 0) + 1;
    const n = k => counts[k] || 0;
    const v = this.cardValues;
    setText(v.agents, `${agents.filter(a => a.active).length} / ${agents.length}`);
    setText(v.frameworks, `${fws.filter(f => f.active).length} / ${fws.length}`);
    setText(v.running, n('TASK_RUNNING'));
    setText(v.staging, n('TASK_STAGING') + n('TASK_STARTING'));
    setText(v.finished, n('TASK_FINISHED'));
    setText(v.failed, n('TASK_FAILED') + n('TASK_LOST') + n('TASK_ERROR') + n('TASK_DROPPED') + n('TASK_UNREACHABLE'));
    setText(v.killed, n('TASK_KILLED'));
    setText(v.offers, (s.counters || {}).outstanding_offers || 0);
    const c = s.cluster;
    this.res.set(c.total, c.used, c.offered);
    this.states.setRows(Object.entries(counts).map(([state, count]) => ({state, count})));
    const h = app.history;
    this.cpuChart.update(h.map(p => ({t: new Date(p.t), v: p.cpu})));
    this.runChart.update(h.map(p => ({t: new Date(p.t), v: p.running})));
    this.rateChart.update(launchRate());
  },
};

pages.agents = {
  mount(main) {
    main.appendChild(el('h1', {class: 'h4'}, 'Agents'));
    this.table = new LiveTable(main, {
      id: 'agents', placeholder: 'Filter by id, host, rack, health, attribute', groupBy: rack, groupTitle: 'rack ',
      columns: [
        {key: 'id', title: 'ID', value: a => a.id, render: (td, a) => setLink(td, `#/agents/${enc(a.id)}`, a.id)},
        {key: 'hostname', title: 'Host', value: a => a.hostname},
        {key: 'health', title: 'Health', value: a => a.health},
        {key: 'tasks', title: 'Tasks', num: true, value: a => a.task_count},
        {key: 'cpus', title: 'CPUs', value: a => ratio(a.used_resources.cpus, a.resources.cpus),
         render: (td, a) => setBar(td, a.used_resources.cpus, a.resources.cpus, `${fmtCpus(a.used_resources.cpus)} / ${fmtCpus(a.resources.cpus)}`)},
        {key: 'mem', title: 'Memory', value: a => ratio(a.used_resources.mem, a.resources.mem),
         render: (td, a) => setBar(td, a.used_resources.mem, a.resources.mem, `${fmtBytes(a.used_resources.mem)} / ${fmtBytes(a.resources.mem)}`)},
        {key: 'disk', title: 'Disk', value: a => ratio(a.used_resources.disk, a.resources.disk),
         render: (td, a) => setBar(td, a.used_resources.disk, a.resources.disk, `${fmtBytes(a.used_resources.disk)} / ${fmtBytes(a.resources.disk)}`)},
        {key: 'gpus', title: 'GPUs', num: true, value: a => a.resources.gpus, format: (v, a) => `${a.used_resources.gpus} / ${v}`},
        {key: 'offered', title: 'Offered CPUs', num: true, value: a => a.offered_resources.cpus, format: fmtCpus},
      ],
      searchText: a => [a.id, a.hostname, a.health, rack(a), ...Object.entries(a.attributes || {}).map(([k, v]) => `${k}:${v}`)].join(' '),
      rowKey: a => a.id,
      rowClass: a => a.health === 'unreachable' ? 'table-danger' : a.health === 'disconnected' ? 'table-warning' : '',
    });
  },
  update(s) { this.table.setRows(s.agents || []); },
};

pages.agent = {
  mount(main, [id]) {
    this.id = id;
    main.appendChild(el('h1', {class: 'h4'}, 'Agent ', el('code', {}, id)));
    this.missing = null;
    this.main = main;
    this.kv = new KeyValueTable(section(main, null, 'agent-info'), 'agent-kv');
    this.res = resourceTable(section(main, 'Resources', 'agent-resources'), 'agent-res');
    this.attrs = new KeyValueTable(section(main, 'Attributes', 'agent-attributes'), 'agent-attrs');
    this.tasks = new LiveTable(section(main, 'Tasks', 'agent-tasks'), {
      id: 'agent-tasks', columns: taskColumns({noAgent: true, sandbox: true}), rowKey: taskKey, rowClass: failedClass,
      sort: {key: 'time', dir: -1}});
    // The agent's own measurements of its running tasks (its cgroups and
    // sandboxes), through the master, every 5 s.
    const usage = section(main, 'Usage of running tasks', 'agent-usage');
    this.usageNote = usage.appendChild(el('p', {class: 'text-muted small', 'data-role': 'usage-status'}));
    this.usage = new LiveTable(usage, {
      id: 'agent-usage',
      columns: [
        {key: 'task', title: 'Task', value: u => u.task_id,
         render: (td, u) => setLink(td, `#/tasks/${enc(u.framework_id)}/${enc(u.task_id)}`, u.task_id)},
        {key: 'cpu', title: 'CPU seconds', num: true, value: u => u.statistics.cpus_time_secs,
         format: v => v === undefined ? '' : v.toFixed(2)},
        {key: 'mem', title: 'Memory', num: true, value: u => u.statistics.mem_total_bytes, format: fmtBytes},
        {key: 'procs', title: 'Processes', num: true, value: u => u.statistics.processes},
        {key: 'disk', title: 'Sandbox disk', num: true, value: u => u.statistics.disk_used_bytes, format: fmtBytes},
      ],
      rowKey: u => `${u.framework_id}/${u.task_id}`});
    this.usageAt = 0;
  },
  update(s) {
    const a = (s.agents || []).find(x => x.id === this.id);
    if (!a) {
      if (!this.missing) this.missing = notFound(this.main, 'The master does not know this agent (any more).');
      return;
    }
    this.kv.set([['ID', a.id], ['Host', a.hostname], ['HTTP address', a.http_address], ['Health', a.health],
                 ['Rack', rack(a)], ['Tasks', String(a.task_count)], ['Registered', fmtTime(a.registered_time)]]);
    this.res.set(a.resources, a.used_resources, a.offered_resources);
    this.attrs.set(Object.entries(a.attributes || {}));
    this.tasks.setRows(allTasks(s).filter(t => t.agent_id === this.id));
    if (Date.now() - this.usageAt >= 5000) {
      this.usageAt = Date.now();
      this.refreshUsage();
    }
  },
  async refreshUsage() {
    try {
      const r = await getJSON(`/agents/${enc(this.id)}/monitor/statistics`);
      if (r.status === 200 && Array.isArray(r.body)) {
        this.usage.setRows(r.body.filter(u => u && u.statistics));
        setText(this.usageNote, `Measured by the agent at ${new Date().toLocaleTimeString()}.`);
      } else {
        setText(this.usageNote, `The agent's measurements cannot be read (${r.status}): ${(r.body && r.body.error) || 'no answer'}`);
      }
    } catch (e) {
      setText(this.usageNote, 'The master cannot be reached.');
    }
  },
};

pages.frameworks = {
  mount(main) {
    main.appendChild(el('h1', {class: 'h4'}, 'Frameworks'));
    this.table = new LiveTable(main, {
      id: 'frameworks',
      columns: [
        {key: 'id', title: 'ID', value: f => f.id, render: (td, f) => setLink(td, `#/frameworks/${enc(f.id)}`, f.id)},
        {key: 'name', title: 'Name', value: f => f.name, wrap: true},
        {key: 'principal', title: 'Principal', value: f => f.principal},
        {key: 'roles', title: 'Roles', value: f => (f.roles || []).join(', ')},
        {key: 'active', title: 'Active', value: f => f.active ? 'yes' : 'no'},
        {key: 'tasks', title: 'Tasks', num: true, value: f => (f.tasks || []).length},
        {key: 'cpus', title: 'CPUs used', num: true, value: f => f.used_resources.cpus, format: fmtCpus},
        {key: 'mem', title: 'Mem used', num: true, value: f => f.used_resources.mem, format: fmtBytes},
        {key: 'offers', title: 'Offers', num: true, value: f => (f.offers || []).length},
      ],
      rowKey: f => f.id, rowClass: f => f.active ? '' : 'table-warning',
    });
    this.completed = new LiveTable(section(main, 'Completed frameworks (most recent 100)', 'completed-frameworks'), {
      id: 'completed-frameworks', pageSize: 25, sort: {key: 'removed', dir: -1},
      columns: [
        {key: 'id', title: 'ID', value: f => f.id, render: (td, f) => setLink(td, `#/frameworks/${enc(f.id)}`, f.id)},
        {key: 'name', title: 'Name', value: f => f.name, wrap: true},
        {key: 'roles', title: 'Roles', value: f => (f.roles || []).join(', ')},
        {key: 'removed', title: 'Removed', num: true, value: f => f.removed_time, format: fmtTime},
        {key: 'reason', title: 'Why', value: f => f.reason, wrap: true},
      ],
      rowKey: f => f.id});
  },
  update(s) {
    this.table.setRows(s.frameworks || []);
    this.completed.setRows(s.completed_frameworks || []);
  },
};

pages.framework = {
  mount(main, [id]) {
    this.id = id;
    this.main = main;
    this.missing = null;
    this.title = el('span', {'data-role': 'framework-name'});
    main.appendChild(el('h1', {class: 'h4'}, 'Framework ', this.title, ' ', el('small', {class: 'text-muted'}, id)));
    this.kv = new KeyValueTable(section(main, null, 'framework-info'), 'framework-kv');
    this.tasks = new LiveTable(section(main, 'Tasks', 'framework-tasks'), {
      id: 'framework-tasks', columns: taskColumns({noFramework: true}), rowKey: taskKey, rowClass: failedClass,
      sort: {key: 'time', dir: -1}});
    this.offers = new LiveTable(section(main, 'Outstanding offers', 'framework-offers'), {
      id: 'framework-offers', pageSize: 25,
      columns: [
        {key: 'id', title: 'Offer', value: o => o.id},
        {key: 'agent', title: 'Agent', value: o => o.agent_id, render: (td, o) => setLink(td, `#/agents/${enc(o.agent_id)}`, o.agent_id)},
        {key: 'role', title: 'Role', value: o => o.role},
        {key: 'res', title: 'Resources', value: o => resourceLine(o.resources)},
      ],
      rowKey: o => o.id, empty: 'no outstanding offers'});
    this.teardown = new OperatorAction(section(main, null, 'framework-actions'), {
      id: 'teardown', label: 'Tear down framework', confirm: 'Really tear down? Its tasks are killed',
      url: () => `/frameworks/${enc(this.id)}/teardown`,
      done: b => `torn down; ${b.tasks_killed} task(s) being killed`});
    const why = section(main, 'Why no offers? (GET /policy/explain)', 'framework-explain');
    const button = why.appendChild(el('button', {class: 'btn btn-sm btn-outline-primary mb-2', text: 'Explain again'}));
    this.explain = why.appendChild(el('div', {'data-role': 'explain'}));
    button.addEventListener('click', () => this.loadExplain());
    this.loadExplain();
  },
  async loadExplain() {
    setText(this.explain, 'asking the master…');
    try {
      const r = await getJSON(`/policy/explain?framework=${enc(this.id)}`);
      this.explain.textContent = '';
      if (r.redirect) { this.explain.appendChild(el('div', {class: 'text-muted'}, 'this master is a standby')); return; }
      if (r.status !== 200) {
        this.explain.appendChild(el('div', {class: 'alert alert-warning'}, `${r.status}: ${(r.body && r.body.error) || ''}`));
        return;
      }
      renderExplain(this.explain, r.body);
    } catch (e) {
      setText(this.explain, 'the master cannot be reached');
    }
  },
  update(s) {
    const f = (s.frameworks || []).find(x => x.id === this.id);
    const gone = f ? null : (s.completed_frameworks || []).find(x => x.id === this.id);
    if (!f && !gone) {
      if (!this.missing) this.missing = notFound(this.main, 'The master does not know this framework (any more).');
      this.teardown.setEnabled(false);
      return;
    }
    if (this.missing) { this.missing.remove(); this.missing = null; }
    this.teardown.setEnabled(!!f);
    if (gone) {
      setText(this.title, gone.name);
      this.kv.set([['ID', gone.id], ['Name', gone.name], ['Principal', gone.principal],
                   ['Roles', (gone.roles || []).join(', ')], ['State', 'completed'],
                   ['Registered', fmtTime(gone.registered_time)], ['Removed', fmtTime(gone.removed_time)],
                   ['Why', gone.reason]]);
      this.tasks.setRows(allTasks(s).filter(t => t.framework_id === this.id));
      this.offers.setRows([]);
      return;
    }
    setText(this.title, f.name);
    this.kv.set([['ID', f.id], ['Name', f.name], ['Principal', f.principal], ['Roles', (f.roles || []).join(', ')],
                 ['Active', f.active ? 'yes' : 'no'], ['Failover timeout', `${f.failover_timeout} s`],
                 ['Used', resourceLine(f.used_resources)], ['Offered', resourceLine(f.offered_resources)]]);
    this.tasks.setRows(allTasks(s).filter(t => t.framework_id === this.id));
    this.offers.setRows(f.offers || []);
  },
};

/** Shows an explain answer (`GET /policy/explain`): the framework's
 *  standing, its role path and why each agent is not offered. */
function renderExplain(node, b) {
  const yes = v => v ? 'yes' : 'no';
  const order = o => o ? `${o.position} of ${o.of}` + (o.keys && o.keys.length
      ? ' (' + o.keys.map(k => `${k.rule} = ${typeof k.value === 'number' ? Math.round(k.value * 1e4) / 1e4 : k.value}`).join(', ') + ')' : '') : '';
  const kv = new KeyValueTable(node, 'explain-kv');
  kv.set([['Role', b.role || ''], ['Active', yes(b.active)], ['Suppressed', yes(b.suppressed)],
          ['Demand covered', yes(b.demand_covered)], ['Role order', order(b.role_order)],
          ['Order in its role', order(b.framework_order)],
          ['Locality', b.locality ? `${b.locality.level || '(none)'}, waited ${b.locality.waited_seconds} s` : '']]);
  const limits = boundLine;
  if (Array.isArray(b.role_path) && b.role_path.length) {
    node.appendChild(el('h3', {}, 'Role path'));
    const t = new LiveTable(node, {id: 'explain-roles', pageSize: 25, fixedOrder: true, rowKey: r => r.role,
      columns: [{key: 'role', title: 'Role', value: r => r.role},
                {key: 'alloc', title: 'Allocated', value: r => resourceLine(r.allocated)},
                {key: 'guarantee', title: 'Guarantee', value: r => limits(r.guarantee) || 'none'},
                {key: 'below', title: 'Below guarantee', value: r => yes(r.below_guarantee)},
                {key: 'limit', title: 'Limit', value: r => limits(r.limit) || 'none'},
                {key: 'headroom', title: 'Headroom', value: r => limits(r.headroom) || 'unlimited'}]});
    t.search.parentNode.classList.add('d-none');
    t.setRows(b.role_path);
  }
  if (b.agents) {
    node.appendChild(el('h3', {}, `Agents considered: ${b.agents.considered}`));
    const rows = [];
    for (const [k, v] of Object.entries(b.agents)) {
      if (k === 'considered') continue;
      if (v && typeof v === 'object') for (const [f, n] of Object.entries(v)) rows.push({why: `${k.replace(/_/g, ' ')}: ${f}`, n});
      else rows.push({why: k.replace(/_/g, ' '), n: v});
    }
    const t = new LiveTable(node, {id: 'explain-agents', pageSize: 25, fixedOrder: true, rowKey: r => r.why,
      columns: [{key: 'why', title: 'First thing that stops the agent', value: r => r.why},
                {key: 'n', title: 'Agents', num: true, value: r => r.n}]});
    t.search.parentNode.classList.add('d-none');
    t.setRows(rows);
  }
  node.appendChild(el('details', {}, el('summary', {}, 'The whole answer'),
                      el('pre', {class: 'explain'}, JSON.stringify(b, null, 2))));
}

pages.roles = {
  mount(main) {
    main.appendChild(el('h1', {class: 'h4'}, 'Roles'));
    main.appendChild(el('p', {class: 'text-muted'},
        'The role tree with weights, allocation, shares, and the guarantees and limits of the running policy ' +
        '(a limit lists only the resources it limits).'));
    this.table = new LiveTable(main, {
      id: 'roles', pageSize: 250,
      columns: [
        {key: 'path', title: 'Role', value: r => r.path, render: (td, r) => {
          if (!td.firstChild) { td.appendChild(el('span', {class: 'role-indent'})); td.appendChild(el('span')); }
          td.firstChild.style.width = `${r.depth * 1.2}rem`;
          setText(td.lastChild, r.name);
        }},
        {key: 'weight', title: 'Weight', num: true, value: r => r.weight, format: v => v === undefined ? '' : String(v)},
        {key: 'share', title: 'Weighted share', num: true, value: r => r.weighted_share, format: v => v === undefined ? '' : v.toFixed(4)},
        {key: 'dominant', title: 'Dominant share', num: true, value: r => r.dominant, format: fmtPct},
        {key: 'cpus', title: 'CPUs', num: true, value: r => r.allocated.cpus, format: fmtCpus},
        {key: 'mem', title: 'Mem', num: true, value: r => r.allocated.mem, format: fmtBytes},
        {key: 'disk', title: 'Disk', num: true, value: r => r.allocated.disk, format: fmtBytes},
        {key: 'gpus', title: 'GPUs', num: true, value: r => r.allocated.gpus},
        {key: 'guarantee', title: 'Guarantee', value: r => r.guarantee || ''},
        {key: 'limit', title: 'Limit', value: r => r.limit || ''},
        {key: 'frameworks', title: 'Frameworks', num: true, value: r => r.frameworks},
      ],
      rowKey: r => r.path, sort: {key: 'path', dir: 1}});
  },
  update(s) {
    const total = s.cluster.total;
    const byPath = new Map();
    const zero = {cpus: 0, mem: 0, disk: 0, gpus: 0};
    const ensure = path => {
      if (byPath.has(path)) return byPath.get(path);
      const parts = path.split('/');
      const r = {path, name: parts[parts.length - 1], depth: parts.length - 1, allocated: {...zero}, frameworks: 0, own: false};
      byPath.set(path, r);
      if (parts.length > 1) ensure(parts.slice(0, -1).join('/'));
      return r;
    };
    for (const role of s.roles || []) {
      const r = ensure(role.name);
      Object.assign(r, {weight: role.weight, weighted_share: role.weighted_share, allocated: role.allocated, own: true,
                        bounds: {guarantee: role.guarantee, limit: role.limit}});
    }
    for (const f of s.frameworks || []) for (const name of f.roles && f.roles.length ? f.roles : ['*']) ensure(name).frameworks++;
    // A parent's allocation is the sum of its children's when it has none of its own.
    const rows = [...byPath.values()].sort((a, b) => b.depth - a.depth);
    for (const r of rows) {
      if (r.depth === 0) continue;
      const parent = byPath.get(r.path.split('/').slice(0, -1).join('/'));
      if (!parent.own) for (const k of Object.keys(zero)) parent.allocated[k] = (parent.allocated[k] || 0) + (r.allocated[k] || 0);
    }
    for (const r of rows) {
      r.dominant = Math.max(...Object.keys(zero).map(k => ratio(r.allocated[k] || 0, total[k] || 0)));
      r.guarantee = r.bounds ? boundLine(r.bounds.guarantee) : '';
      r.limit = r.bounds ? boundLine(r.bounds.limit) : '';
    }
    this.table.setRows(rows);
  },
};

pages.tasks = {
  mount(main) {
    main.appendChild(el('h1', {class: 'h4'}, 'Tasks'));
    this.table = new LiveTable(main, {
      id: 'tasks', placeholder: 'Search id, name, framework, agent, state, command',
      columns: taskColumns(), rowKey: taskKey, rowClass: failedClass, sort: {key: 'time', dir: -1},
      searchText: t => [t.id, t.name, t.framework_name, t.framework_id, t.agent_id, t.state, t.role, t.command, t.message].join(' '),
    });
    const select = el('select', {class: 'form-select form-select-sm w-auto', 'aria-label': 'Which tasks', 'data-role': 'which'},
        [['all', 'All tasks'], ['active', 'Active'], ['completed', 'Completed'], ['failed', 'Failed, lost, errors']]
            .map(([v, label]) => el('option', {value: v}, label)));
    const apply = () => {
      const v = select.value;
      this.table.setPredicate(v === 'active' ? t => !t.completed : v === 'completed' ? t => t.completed
                              : v === 'failed' ? t => FAILED_STATES.has(t.state) : null);
    };
    select.value = tableMemory.get('tasks-which') || 'all';
    select.addEventListener('change', () => { tableMemory.set('tasks-which', select.value); apply(); });
    this.table.extra.appendChild(select);
    apply();
  },
  update(s) { this.table.setRows(allTasks(s)); },
};

/** Tails a sandbox file through the master: the last 64 KiB first, then
 *  what is appended, every 2 s. */
class FileTail {
  constructor(container, agentId, path) {
    this.agentId = agentId; this.path = path; this.offset = -1;
    const name = path.split('/').pop();
    this.status = el('span', {class: 'text-muted small ms-2'});
    container.appendChild(el('h3', {}, name, ' ',
        el('a', {class: 'small', href: fileUrl(agentId, 'download', {path}), download: name}, 'download'), this.status));
    this.pre = container.appendChild(el('pre', {class: 'log', 'data-file': name}));
    this.text = this.pre.appendChild(document.createTextNode(''));
    this.stopped = false;
    this.tick();
  }
  stop() { this.stopped = true; clearTimeout(this.timer); }
  async tick() {
    if (this.stopped) return;
    try {
      if (this.offset < 0) {
        const r = await getJSON(fileUrl(this.agentId, 'read', {path: this.path, offset: -1}));
        if (r.status !== 200) throw new Error((r.body && r.body.error) || `HTTP ${r.status}`);
        this.offset = Math.max(0, r.body.offset - 65536);
      }
      for (let i = 0; i < 8 && !this.stopped; i++) {
        const r = await getJSON(fileUrl(this.agentId, 'read', {path: this.path, offset: this.offset, length: 65536}));
        if (r.status !== 200) throw new Error((r.body && r.body.error) || `HTTP ${r.status}`);
        const data = r.body.data || '';
        if (!data) break;
        const atBottom = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 4;
        this.text.appendData(data);
        if (this.text.length > 512 * 1024) this.text.deleteData(0, this.text.length - 256 * 1024);
        if (atBottom) this.pre.scrollTop = this.pre.scrollHeight;
        this.offset = r.body.offset + new TextEncoder().encode(data).length;
      }
      setText(this.status, `${this.offset} bytes`);
    } catch (e) {
      setText(this.status, `cannot read: ${e.message}`);
    }
    if (!this.stopped) this.timer = setTimeout(() => this.tick(), 2000);
  }
}

pages.task = {
  mount(main, [fw, id]) {
    this.fw = fw; this.id = id; this.main = main; this.missing = null; this.sandboxAgent = null;
    main.appendChild(el('h1', {class: 'h4'}, 'Task ', el('code', {}, id)));
    this.kv = new KeyValueTable(section(main, null, 'task-info'), 'task-kv');
    this.kill = new OperatorAction(section(main, null, 'task-actions'), {
      id: 'kill', label: 'Kill task', confirm: 'Really kill this task?',
      url: () => `/frameworks/${enc(this.fw)}/tasks/${enc(this.id)}/kill`,
      done: b => `kill sent to agent ${b.agent_id}`});
    // The states the task went through, with when and why (newest first).
    this.states = new LiveTable(section(main, 'States', 'task-states'), {
      id: 'task-states', pageSize: 25, sort: {key: 'time', dir: -1},
      columns: [
        {key: 'time', title: 'Time', num: true, value: h => h.timestamp, format: fmtTime},
        {key: 'state', title: 'State', value: h => h.state, render: (td, h) => setBadge(td, h.state)},
        {key: 'reason', title: 'Reason', value: h => h.reason},
        {key: 'message', title: 'Message', value: h => h.message},
      ],
      rowKey: h => `${h.timestamp}/${h.state}`});
    // What the agent measures of the running task, every 5 s.
    this.usage = new KeyValueTable(section(main, 'Usage', 'task-usage'), 'task-usage-kv');
    this.usageAt = 0;
    this.sandbox = section(main, 'Sandbox', 'task-sandbox');
    this.tails = [];
  },
  unmount() { for (const t of this.tails) t.stop(); },
  update(s) {
    const matches = allTasks(s).filter(t => t.framework_id === this.fw && t.id === this.id);
    const t = matches.find(x => !x.completed) || matches[matches.length - 1];
    if (!t) {
      if (!this.missing) this.missing = notFound(this.main, 'The master does not know this task (any more).');
      this.kill.setEnabled(false);
      return;
    }
    if (this.missing) { this.missing.remove(); this.missing = null; }
    this.kill.setEnabled(!t.completed && ACTIVE_STATES.has(t.state));
    if (!this.fwLink) { this.fwLink = el('a'); this.agentLink = el('a'); this.badge = el('span'); }
    setAttr(this.fwLink, 'href', `#/frameworks/${enc(t.framework_id)}`);
    setText(this.fwLink, t.framework_name || t.framework_id);
    setAttr(this.agentLink, 'href', `#/agents/${enc(t.agent_id)}`);
    setText(this.agentLink, t.agent_id);
    setBadge(this.badge, t.state);
    this.kv.set([['ID', t.id], ['Name', t.name], ['Framework', this.fwLink], ['Agent', this.agentLink],
                 ['Role', t.role], ['State', this.badge], ['Reason', t.reason], ['Message', t.message],
                 ['Exit code', t.completed || !ACTIVE_STATES.has(t.state) ? String(t.exit_code) : ''],
                 ['Command', t.command], ['Resources', resourceLine(t.resources)],
                 ['Launched', fmtTime(t.launched_time)], ['Updated', fmtTime(t.timestamp)]]);
    this.states.setRows(t.statuses || []);
    if (!t.completed && ACTIVE_STATES.has(t.state) && Date.now() - this.usageAt >= 5000) {
      this.usageAt = Date.now();
      this.refreshUsage(t);
    }
    if (this.sandboxAgent !== t.agent_id) {
      this.sandboxAgent = t.agent_id;
      this.showSandbox(t);
    }
  },
  async refreshUsage(t) {
    try {
      const r = await getJSON(`/agents/${enc(t.agent_id)}/monitor/statistics`);
      const u = r.status === 200 && Array.isArray(r.body)
          ? r.body.find(x => x && x.framework_id === t.framework_id && x.task_id === t.id) : null;
      if (!u || !u.statistics) {
        this.usage.set([['Measured', r.status === 200 ? 'not running on the agent' : `cannot be read (${r.status})`]]);
        return;
      }
      const s = u.statistics;
      const num = v => v === undefined ? '' : String(v);
      this.usage.set([['CPU seconds', s.cpus_time_secs === undefined ? '' : s.cpus_time_secs.toFixed(2)],
                      ['CPU limit', num(s.cpus_limit)], ['Memory', fmtBytes(s.mem_total_bytes)],
                      ['Memory peak', fmtBytes(s.mem_peak_bytes)], ['Memory limit', fmtBytes(s.mem_limit_bytes)],
                      ['Processes', num(s.processes)], ['OOM kills', num(s.oom_kills)],
                      ['Sandbox disk', fmtBytes(s.disk_used_bytes)],
                      ['Measured', new Date().toLocaleTimeString()]]);
    } catch (e) {
      this.usage.set([['Measured', 'the master cannot be reached']]);
    }
  },
  async showSandbox(t) {
    const box = this.sandbox;
    while (box.childNodes.length > 1) box.lastChild.remove();
    for (const tail of this.tails) tail.stop();
    this.tails = [];
    const path = sandboxPath(t);
    box.appendChild(el('p', {class: 'text-muted small'}, `On agent ${t.agent_id}: `, el('code', {}, path)));
    const listing = box.appendChild(el('div', {'data-role': 'sandbox-listing'}));
    try {
      const r = await getJSON(fileUrl(t.agent_id, 'browse', {path}));
      if (r.status !== 200 || !r.body || !Array.isArray(r.body.entries)) {
        listing.appendChild(el('div', {class: 'alert alert-secondary', 'data-role': 'sandbox-error'},
            `The sandbox cannot be listed (${r.status}): ${(r.body && r.body.error) || 'no answer'}`));
        return;
      }
      const table = new LiveTable(listing, {
        id: 'sandbox', pageSize: 100,
        columns: [
          {key: 'name', title: 'Name', value: e => e.name, render: (td, e) => e.dir ? setText(td, e.name + '/')
              : setLink(td, fileUrl(t.agent_id, 'download', {path: e.path}), e.name)},
          {key: 'size', title: 'Size', num: true, value: e => e.size, format: fmtBytes},
          {key: 'mtime', title: 'Modified', num: true, value: e => e.mtime, format: fmtTime},
        ],
        rowKey: e => e.path});
      table.setRows(r.body.entries);
      for (const name of ['stdout', 'stderr'])
        if (r.body.entries.some(e => e.name === name && !e.dir))
          this.tails.push(new FileTail(box, t.agent_id, `${path}/${name}`));
    } catch (e) {
      listing.appendChild(el('div', {class: 'alert alert-secondary'}, 'The master cannot be reached.'));
    }
  },
};

pages.policy = {
  mount(main) {
    main.appendChild(el('h1', {class: 'h4'}, 'Allocation policy'));
    this.kv = new KeyValueTable(section(main, 'Active policy', 'policy-active'), 'policy-kv');
    this.failure = section(main, 'Last failed apply', 'policy-failure').appendChild(el('div'));
    this.source = section(main, 'Source', 'policy-source').appendChild(el('pre', {class: 'explain'}));
    this.raw = el('pre', {class: 'explain'});
    main.appendChild(el('details', {class: 'mt-3'}, el('summary', {}, 'The whole GET /policy answer'), this.raw));
    this.load();
    this.timer = setInterval(() => this.load(), 5000);
  },
  unmount() { clearInterval(this.timer); },
  async load() {
    let r;
    try { r = await getJSON('/policy'); } catch (e) { return; }
    if (r.status !== 200 || !r.body) return;
    const p = r.body, a = p.active || p.policy || p;
    const when = a.loaded_at || a.load_time || a.applied_at || a.at;
    this.kv.set([['Name', a.name], ['Version', String(a.version ?? '')], ['Hash', a.hash],
                 ['Revision', String(a.revision ?? '')], ['Source', a.source_name || ''],
                 ['Reloads', p.reloads ? `${p.reloads.success} applied, ${p.reloads.error} failed` : ''],
                 ['Loaded', typeof when === 'number' ? fmtTime(when) : (when || '')]]);
    const f = p.last_failure || p.last_failed_apply || p.failure;
    const text = f ? [`${f.source_name || ''} at ${fmtTime(f.at)}: ${f.error || ''}`,
                      ...(f.diagnostics || []).map(d => typeof d === 'string' ? d :
                          `${d.file || ''}:${d.line || ''}:${d.column || ''}: ${d.severity || ''}${d.code ? ' ' + d.code : ''}: ${d.message || ''}${d.help ? '\n  help: ' + d.help : ''}`)].join('\n')
                   : 'none';
    if (this.failure.textContent !== text) {
      this.failure.textContent = '';
      this.failure.appendChild(el(f ? 'pre' : 'p', {class: f ? 'explain text-danger' : 'text-muted'}, text));
    }
    setText(this.source, typeof a.source === 'string' ? a.source : '');
    setText(this.raw, JSON.stringify(p, null, 2));
  },
};

// ---------------------------------------------------------------- routing

const routes = [
  [/^$/, 'overview'], [/^agents$/, 'agents'], [/^agents\/([^/]+)$/, 'agent'],
  [/^frameworks$/, 'frameworks'], [/^frameworks\/([^/]+)$/, 'framework'], [/^roles$/, 'roles'],
  [/^tasks$/, 'tasks'], [/^tasks\/([^/]+)\/([^/]+)$/, 'task'], [/^policy$/, 'policy'],
];

function route() {
  const hash = location.hash.replace(/^#\/?/, '').replace(/\/$/, '');
  let name = null, args = [];
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) { name = page; args = m.slice(1).map(decodeURIComponent); break; }
  }
  if (app.page && app.page.unmount) app.page.unmount();
  const main = document.getElementById('page');
  main.textContent = '';
  const top = name ? name.replace(/^(agent|framework|task)$/, '$1s') : '';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === top);
  if (!name) {
    app.page = null;
    notFound(main, 'No such page: #/' + hash);
    return;
  }
  app.page = Object.create(pages[name]);
  app.page.mount(main, args);
  document.title = `Agora · ${name}${args.length ? ' ' + args.join('/') : ''}`;
  if (app.state && app.page.update) app.page.update(app.state);
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
route();
poll();
