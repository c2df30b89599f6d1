// Cairn web dashboard. Vanilla JavaScript, no dependencies, served from the
// gateway at /ui/ and talking to the REST API at /api/v1 (doc/design.md §4).
//
// Views (location.hash):
//   #/overview          chunkservers, capacity, repair state
//   #/files/<dir>       file browser: upload, download, rename, delete, mkdir
//   #/file/<path>       one file: its extents (chunk, version, offset, size), replicas
//   #/usage/<dir>       files and bytes under each child (per tenant at /)
//
// Every API failure is shown in the banner under the header until the same
// request succeeds again. Names from the cluster are only ever inserted as
// text (never as HTML).
//
// Hooks for browser tests: body[data-view], main[data-loaded="true"] after a
// view rendered fresh data, #nodes-table tr[data-node-id][data-state],
// #file-list tr[data-path][data-type], #upload-input, #uploads
// .upload[data-state], #error-banner.
'use strict';

(() => {
  const API = '/api/v1';
  const REFRESH_MS = { overview: 5000, files: 10000, file: 10000, usage: 15000 };
  const DONE_UPLOAD_LINGER_MS = 8000;

  const state = {
    view: null,        // 'overview' | 'files' | 'file' | 'usage'
    path: '/',         // directory or file the view shows
    token: 0,          // bumped on navigation; stale responses are dropped
    lastRefresh: 0,    // Date.now() of the last successful refresh
    refreshing: 0,     // token of the refresh in flight, 0 if none
    again: false,      // a refresh was asked for while one was in flight
    cluster: null,     // last /cluster reply, for node states in file view
    clusterAt: 0,
    entries: [],       // current directory listing (files view)
    errors: new Map(), // key -> ApiError
    uploads: [],
  };

  // ------------------------------------------------------------ DOM helpers

  // h('a', {href: '#', class: 'x', dataset: {path: p}, onclick: f}, 'text', child)
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'style') el.style.cssText = value;
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else if (value === true) el.setAttribute(key, '');
      else el.setAttribute(key, String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function replaceChildren(el, ...children) {
    el.textContent = '';
    return append(el, children);
  }

  const $ = (selector) => document.querySelector(selector);

  // ------------------------------------------------------------ formatting

  function fmtBytes(n) {
    n = Number(n) || 0;
    if (n < 1024) return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
    let value = n / 1024;
    let unit = 0;
    while (value >= 1023.95 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${value.toFixed(1)} ${units[unit]}`;
  }

  function fmtPercent(p) {
    p = Number(p) || 0;
    if (p > 0 && p < 0.1) return '<0.1%';
    return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)}%`;
  }

  function fmtDuration(seconds) {
    if (!isFinite(seconds) || seconds < 0) return '?';
    const s = Math.round(seconds);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  }

  function fmtAgo(ms) {
    if (ms === undefined || ms === null || ms < 0) return '–';
    if (ms < 10000) return `${(ms / 1000).toFixed(1)} s ago`;
    return `${fmtDuration(ms / 1000)} ago`;
  }

  function fmtTime(unixSeconds) {
    if (!unixSeconds) return '–';
    const d = new Date(unixSeconds * 1000);
    const pad = (x) => String(x).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
           `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function naturalCompare(a, b) {
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  // A usage bar; `fraction` in [0, 1]. Warns above 80 %, alarms above 95 %.
  function bar(fraction, label) {
    const f = Math.max(0, Math.min(1, Number(fraction) || 0));
    const level = f >= 0.95 ? 'bad' : f >= 0.8 ? 'warn' : 'ok';
    return h('div', { class: `bar ${level}`, role: 'meter', 'aria-valuemin': 0,
                      'aria-valuemax': 100, 'aria-valuenow': Math.round(f * 100),
                      'aria-label': label || 'usage' },
             h('div', { class: 'fill', style: `width:${(f * 100).toFixed(2)}%` }));
  }

  // ------------------------------------------------------------ paths

  function encodePath(path) {
    return path.split('/').map(encodeURIComponent).join('/');
  }
  function joinPath(dir, name) { return dir === '/' ? `/${name}` : `${dir}/${name}`; }
  function parentPath(path) {
    const i = path.lastIndexOf('/');
    return i <= 0 ? '/' : path.slice(0, i);
  }
  function baseName(path) { return path.slice(path.lastIndexOf('/') + 1); }
  function fileUrl(path) { return `${API}/files${encodePath(path)}`; }

  // Why `name` cannot be one path component, or '' if it can.
  function nameProblem(name) {
    if (!name) return 'The name is empty.';
    if (name === '.' || name === '..') return 'The name cannot be "." or "..".';
    if (name.includes('/')) return 'The name cannot contain "/".';
    if (name.includes('\0')) return 'The name cannot contain NUL.';
    return '';
  }

  // Why `path` is not a valid absolute Cairn path, or ''.
  function pathProblem(path) {
    if (!path.startsWith('/')) return 'The path must start with "/".';
    if (path === '/') return '';
    for (const part of path.slice(1).split('/')) {
      const problem = nameProblem(part);
      if (problem) return problem.replace('The name', 'A path component');
    }
    return '';
  }

  // The hash for a view of `path`.
  function hrefFor(view, path) { return `#/${view}${encodePath(path)}`; }

  // ------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(status, code, message, what) {
      super(message);
      this.status = status;
      this.code = code;
      this.what = what;
    }
  }

  // Parses an error reply ({"error":{"code","message"}}) or falls back to
  // the status line and the start of the body.
  function errorFrom(status, statusText, text, what) {
    let code = `HTTP_${status}`;
    let message = (text || '').trim().slice(0, 300) || statusText || 'request failed';
    try {
      const body = JSON.parse(text);
      if (body && body.error) {
        code = body.error.code || code;
        message = body.error.message || message;
      }
    } catch (e) { /* not JSON */ }
    return new ApiError(status, code, message, what);
  }

  async function api(method, route, { query, body } = {}) {
    let url = API + route;
    if (query) url += `?${new URLSearchParams(query)}`;
    const what = `${method} ${route}${query && query.path ? ` ${query.path}` : ''}`;
    const init = { method, headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, 'UNREACHABLE', 'cannot reach the gateway', what);
    }
    const text = await res.text();
    if (!res.ok) throw errorFrom(res.status, res.statusText, text, what);
    try {
      return text ? JSON.parse(text) : {};
    } catch (e) {
      throw new ApiError(res.status, 'BAD_REPLY', 'the gateway sent malformed JSON', what);
    }
  }

  // Lists a directory, following "truncated" pages.
  async function listAll(path) {
    const entries = [];
    let startAfter = '';
    for (let page = 0; page < 1000; page++) {
      const query = { path };
      if (startAfter) query.start_after = startAfter;
      const reply = await api('GET', '/list', { query });
      entries.push(...(reply.entries || []));
      if (!reply.truncated || !reply.next_start_after ||
          reply.next_start_after === startAfter) break;
      startAfter = reply.next_start_after;
    }
    return entries;
  }

  // ------------------------------------------------------------ errors

  function reportError(key, error) {
    state.errors.set(key, error);
    renderErrors();
  }

  function clearError(key) {
    if (state.errors.delete(key)) renderErrors();
  }

  function renderErrors() {
    const banner = $('#error-banner');
    if (state.errors.size === 0) {
      banner.hidden = true;
      banner.textContent = '';
      return;
    }
    const items = [...state.errors.entries()].map(([key, e]) =>
      h('li', { dataset: { key, code: e.code || '' } },
        h('strong', {}, e.status ? `${e.status} ${e.code}` : e.code || 'Error'),
        ': ', e.message,
        e.what ? h('span', { class: 'muted' }, ` (${e.what})`) : null,
        h('button', { type: 'button', class: 'link-button', 'aria-label': 'Dismiss',
                      onclick: () => clearError(key) }, '×')));
    replaceChildren(banner, h('ul', {}, items));
    banner.hidden = false;
  }

  // Runs `fn`; on failure shows the error under `key` and returns null.
  async function attempt(key, fn) {
    try {
      const result = await fn();
      clearError(key);
      return result;
    } catch (e) {
      reportError(key, e instanceof ApiError ? e : new ApiError(0, 'ERROR', String(e.message || e)));
      return null;
    }
  }

  // ------------------------------------------------------------ dialogs

  // Shows the shared <dialog>. With `input`, resolves to the entered text
  // (validated by `validate`, which returns a problem or ''), else to true;
  // resolves to null when cancelled.
  function openDialog({ title, message, input, label, okLabel, danger, validate }) {
    const dialog = $('#dialog');
    const field = $('#dialog-field');
    const inputEl = $('#dialog-input');
    const errorEl = $('#dialog-error');
    const ok = $('#dialog-ok');
    $('#dialog-title').textContent = title;
    $('#dialog-message').textContent = message || '';
    $('#dialog-message').hidden = !message;
    $('#dialog-label').textContent = label || '';
    field.hidden = input === undefined;
    inputEl.value = input || '';
    errorEl.hidden = true;
    ok.textContent = okLabel || 'OK';
    ok.className = danger ? 'danger' : 'primary';
    return new Promise((resolve) => {
      const finish = (value) => {
        cleanup();
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const onSubmit = (event) => {
        event.preventDefault();
        if (input === undefined) return finish(true);
        const value = inputEl.value.trim();
        const problem = validate ? validate(value) : '';
        if (problem) {
          errorEl.textContent = problem;
          errorEl.hidden = false;
          return undefined;
        }
        return finish(value);
      };
      const onCancel = (event) => {
        event.preventDefault();
        finish(null);
      };
      const form = $('#dialog-form');
      const cancel = $('#dialog-cancel');
      function cleanup() {
        form.removeEventListener('submit', onSubmit);
        cancel.removeEventListener('click', onCancel);
        dialog.removeEventListener('cancel', onCancel);
      }
      form.addEventListener('submit', onSubmit);
      cancel.addEventListener('click', onCancel);
      dialog.addEventListener('cancel', onCancel);
      dialog.showModal();
      if (input !== undefined) {
        inputEl.focus();
        const dot = inputEl.value.lastIndexOf('.');
        inputEl.setSelectionRange(0, dot > 0 ? dot : inputEl.value.length);
      } else {
        ok.focus();
      }
    });
  }

  // ------------------------------------------------------------ routing

  function parseHash() {
    const hash = location.hash.replace(/^#\/?/, '');
    const slash = hash.indexOf('/');
    const view = slash < 0 ? hash : hash.slice(0, slash);
    let path = slash < 0 ? '/' : hash.slice(slash) || '/';
    try {
      path = decodeURIComponent(path);
    } catch (e) { /* keep it raw */ }
    if (path.length > 1 && path.endsWith('/')) path = path.replace(/\/+$/, '') || '/';
    if (!['overview', 'files', 'file', 'usage'].includes(view)) return { view: 'overview', path: '/' };
    return { view, path };
  }

  function route() {
    const { view, path } = parseHash();
    state.view = view;
    state.path = path;
    state.token++;
    state.lastRefresh = 0;
    document.body.dataset.view = view;
    for (const [id, views] of [['nav-overview', ['overview']], ['nav-files', ['files', 'file']],
                               ['nav-usage', ['usage']]]) {
      $(`#${id}`).classList.toggle('active', views.includes(view));
    }
    const main = $('#main');
    main.dataset.loaded = 'false';
    replaceChildren(main, h('p', { class: 'muted' }, 'Loading…'));
    document.title = `Cairn · ${{ overview: 'Cluster', files: path, file: path, usage: 'Usage' }[view]}`;
    refresh();
  }

  async function refresh() {
    if (state.refreshing === state.token) {
      state.again = true;  // e.g. an upload finished mid-refresh
      return;
    }
    const token = state.token;
    state.refreshing = token;
    $('#refresh-status').textContent = 'refreshing…';
    try {
      const render = { overview: refreshOverview, files: refreshFiles, file: refreshFile,
                       usage: refreshUsage }[state.view];
      const ok = await render(token);
      if (token === state.token && ok) {
        state.lastRefresh = Date.now();
        $('#main').dataset.loaded = 'true';
      }
    } finally {
      if (state.refreshing === token) state.refreshing = 0;
      updateRefreshStatus();
      if (state.again && !state.refreshing) {
        state.again = false;
        refresh();
      }
    }
  }

  function updateRefreshStatus() {
    const status = $('#refresh-status');
    if (state.refreshing) return;
    status.textContent = state.lastRefresh
      ? `updated ${fmtAgo(Date.now() - state.lastRefresh)}`
      : 'not updated';
    status.classList.toggle('stale', !state.lastRefresh ||
                            Date.now() - state.lastRefresh > 3 * REFRESH_MS[state.view]);
  }

  function tick() {
    updateRefreshStatus();
    if (!$('#auto-refresh').checked || document.hidden || $('#dialog').open) return;
    if (Date.now() - state.lastRefresh >= REFRESH_MS[state.view]) refresh();
  }

  // The container of the current view, or null if the user navigated away.
  function viewRoot(token) {
    return token === state.token ? $('#main') : null;
  }

  // ------------------------------------------------------------ overview

  function nodeStateClass(s) {
    return s === 'alive' ? 'ok' : s === 'dead' ? 'bad' : 'warn';
  }

  function card(title, value, detail, level) {
    return h('div', { class: `card ${level || ''}` },
             h('div', { class: 'card-title' }, title),
             h('div', { class: 'card-value' }, value),
             detail ? h('div', { class: 'card-detail' }, detail) : null);
  }

  async function loadCluster() {
    const cluster = await api('GET', '/cluster');
    state.cluster = cluster;
    state.clusterAt = Date.now();
    return cluster;
  }

  async function refreshOverview(token) {
    const cluster = await attempt('cluster', loadCluster);
    const main = viewRoot(token);
    if (!main || !cluster) return false;
    const nodes = (cluster.nodes || []).slice().sort((a, b) => naturalCompare(a.id, b.id));
    const t = cluster.totals || {};
    const capacity = Number(t.capacity) || 0;
    const used = Number(t.used) || 0;
    const alive = Number(t.alive) || 0;
    const total = Number(t.nodes) || nodes.length;
    const under = Number(t.under_replicated) || 0;
    const queue = Number(t.replication_queue) || 0;

    const cards = h('div', { class: 'cards', id: 'cluster-totals' },
      card('Chunkservers', `${alive} / ${total}`, 'alive', alive < total ? 'warn' : 'ok'),
      card('Capacity', fmtBytes(capacity),
           [bar(capacity ? used / capacity : 0, 'cluster usage'),
            `${fmtBytes(used)} used (${fmtPercent(t.usage_percent)})`]),
      card('Chunks', String(t.chunks ?? '–'),
           cluster.replication ? `replication ×${cluster.replication}` +
             (cluster.chunk_size ? ` · ${fmtBytes(cluster.chunk_size)} chunks` : '') : null),
      card('Under-replicated', String(under), under ? 'chunks below their replica count' : 'all chunks fully replicated',
           under ? 'warn' : 'ok'),
      card('Repair queue', String(queue), queue ? 're-replications pending' : 'idle',
           queue ? 'warn' : ''),
      cluster.safe_mode
        ? card('Master', 'Safe mode', 'waiting for chunk reports: reads only', 'warn')
        : card('Master', 'Serving', 'namespace writable', 'ok'));

    const rows = nodes.map((n) => {
      const cap = Number(n.capacity) || 0;
      const usedBytes = Number(n.used) || 0;
      const frac = cap ? usedBytes / cap : 0;
      return h('tr', { dataset: { nodeId: n.id, state: n.state } },
        h('td', { 'data-label': 'Node' }, h('strong', {}, String(n.id))),
        h('td', { 'data-label': 'Address', class: 'mono' }, n.address || '–'),
        h('td', { 'data-label': 'Zone' }, n.zone || '–'),
        h('td', { 'data-label': 'State' },
          h('span', { class: `badge ${nodeStateClass(n.state)}` }, n.state || 'unknown')),
        h('td', { 'data-label': 'Usage', class: 'usage-cell' },
          bar(frac, `usage of ${n.id}`),
          h('span', { class: 'small' },
            `${fmtBytes(usedBytes)} / ${fmtBytes(cap)} (${fmtPercent(frac * 100)})`)),
        h('td', { 'data-label': 'Chunks', class: 'num' }, String(n.chunks ?? '–')),
        h('td', { 'data-label': 'Heartbeat',
                  class: `num ${n.last_heartbeat_ms_ago > 10000 ? 'warn-text' : ''}` },
          fmtAgo(n.last_heartbeat_ms_ago)));
    });

    replaceChildren(main,
      h('section', { id: 'overview' },
        h('h1', {}, 'Cluster'),
        cards,
        h('h2', {}, `Chunkservers (${nodes.length})`),
        nodes.length
          ? h('table', { id: 'nodes-table', class: 'data responsive' },
              h('thead', {}, h('tr', {},
                ['Node', 'Address', 'Zone', 'State', 'Usage', 'Chunks', 'Heartbeat'].map(
                  (c) => h('th', { class: ['Chunks', 'Heartbeat'].includes(c) ? 'num' : '' }, c)))),
              h('tbody', {}, rows))
          : h('p', { class: 'empty' }, 'No chunkserver has registered yet.')));
    return true;
  }

  // ------------------------------------------------------------ files

  function breadcrumbs(view, path, { lastIsLink = false } = {}) {
    const parts = path === '/' ? [] : path.slice(1).split('/');
    const crumbs = [h('a', { href: hrefFor(view, '/') }, 'root')];
    let current = '';
    parts.forEach((part, i) => {
      current += `/${part}`;
      crumbs.push(h('span', { class: 'sep' }, '/'));
      crumbs.push(i === parts.length - 1 && !lastIsLink
        ? h('span', { class: 'current' }, part)
        : h('a', { href: hrefFor(view, current) }, part));
    });
    return h('nav', { class: 'breadcrumbs', 'aria-label': 'Path' }, crumbs);
  }

  async function refreshFiles(token) {
    const dir = state.path;
    const entries = await attempt('list', () => listAll(dir));
    const main = viewRoot(token);
    if (!main || !entries) {
      if (main && !main.querySelector('#files')) renderFilesShell(main, dir, null);
      return false;
    }
    state.entries = entries;
    renderFilesShell(main, dir, entries);
    return true;
  }

  // Builds the file browser; keeps the uploads panel across refreshes.
  function renderFilesShell(main, dir, entries) {
    const uploadInput = h('input', {
      type: 'file', id: 'upload-input', multiple: true, class: 'visually-hidden',
      onchange: (e) => {
        const files = [...e.target.files];
        e.target.value = '';
        startUploads(files, dir);
      },
    });
    const toolbar = h('div', { class: 'toolbar' },
      breadcrumbs('files', dir),
      h('div', { class: 'actions' },
        h('label', { class: 'button primary', for: 'upload-input', id: 'upload-button' }, 'Upload'),
        uploadInput,
        h('button', { type: 'button', id: 'mkdir-button', onclick: () => makeDirectory(dir) },
          'New folder'),
        h('a', { class: 'button', href: hrefFor('usage', dir) }, 'Usage')));

    let listing;
    if (entries === null) {
      listing = h('p', { class: 'empty' }, 'The listing could not be loaded.');
    } else {
      listing = fileTable(dir, entries);
    }
    const drop = h('div', { id: 'dropzone', class: 'dropzone' }, listing,
                   h('p', { class: 'drop-hint muted' }, 'Drop files here to upload them to ', dir));
    wireDropzone(drop, dir);

    const uploads = $('#uploads') || h('div', { id: 'uploads', class: 'uploads' });
    replaceChildren(main, h('section', { id: 'files' }, h('h1', {}, 'Files'), toolbar, uploads, drop));
    renderUploads();
  }

  function fileTable(dir, entries) {
    const sorted = entries.slice().sort((a, b) => {
      const ad = a.type === 'dir' ? 0 : 1;
      const bd = b.type === 'dir' ? 0 : 1;
      return ad - bd || naturalCompare(a.name, b.name);
    });
    const rows = [];
    if (dir !== '/') {
      rows.push(h('tr', { class: 'parent-row' },
        h('td', { 'data-label': 'Name', colspan: 4 },
          h('a', { href: hrefFor('files', parentPath(dir)) }, '↰ parent directory'))));
    }
    for (const e of sorted) {
      const path = e.path || joinPath(dir, e.name);
      const isDir = e.type === 'dir';
      rows.push(h('tr', { dataset: { path, type: isDir ? 'dir' : 'file' } },
        h('td', { 'data-label': 'Name', class: 'name' },
          h('span', {},
            h('span', { class: `icon ${isDir ? 'dir' : 'file'}`, 'aria-hidden': 'true' }),
            h('a', { href: hrefFor(isDir ? 'files' : 'file', path) }, e.name + (isDir ? '/' : '')))),
        h('td', { 'data-label': 'Size', class: 'num' }, isDir ? '–' : fmtBytes(e.size)),
        h('td', { 'data-label': 'Modified' }, fmtTime(e.mtime)),
        h('td', { 'data-label': 'Actions', class: 'row-actions' },
          isDir ? null : h('a', { class: 'button small', href: fileUrl(path), download: e.name,
                                  title: `Download ${e.name}` }, 'Download'),
          h('button', { type: 'button', class: 'small', onclick: () => renamePath(path) }, 'Rename'),
          h('button', { type: 'button', class: 'small danger',
                        onclick: () => deletePath(path, isDir) }, 'Delete'))));
    }
    const table = h('table', { id: 'file-list', class: 'data responsive' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', { class: 'num' }, 'Size'),
                       h('th', {}, 'Modified'), h('th', {}, ''))),
      h('tbody', {}, rows));
    if (!entries.length) {
      return [table, h('p', { class: 'empty' }, 'This directory is empty. Upload files or create a folder.')];
    }
    return table;
  }

  function wireDropzone(zone, dir) {
    let depth = 0;
    zone.addEventListener('dragenter', (e) => {
      if (!e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return;
      e.preventDefault();
      depth++;
      zone.classList.add('dragging');
    });
    zone.addEventListener('dragover', (e) => {
      if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) e.preventDefault();
    });
    zone.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove('dragging');
    });
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      zone.classList.remove('dragging');
      const files = [...(e.dataTransfer ? e.dataTransfer.files : [])];
      if (files.length) startUploads(files, dir);
    });
  }

  async function makeDirectory(dir) {
    const name = await openDialog({
      title: 'New folder', label: 'Name', input: '', okLabel: 'Create',
      message: `Creates a folder in ${dir}.`, validate: nameProblem,
    });
    if (name === null) return;
    const done = await attempt('mkdir', () => api('POST', '/mkdir', { body: { path: joinPath(dir, name) } }));
    if (done) refresh();
  }

  async function renamePath(path) {
    const target = await openDialog({
      title: 'Rename', label: 'New name, or a full path starting with /', input: baseName(path),
      okLabel: 'Rename', message: path,
      validate: (v) => (v.startsWith('/') ? pathProblem(v) : nameProblem(v)),
    });
    if (target === null) return;
    const full = target.startsWith('/') ? target : joinPath(parentPath(path), target);
    if (full === path) return;
    const done = await attempt('rename',
      () => api('POST', '/rename', { body: { source: path, target: full } }));
    if (!done) return;
    if (state.view === 'file') location.hash = hrefFor('file', full);
    else refresh();
  }

  async function deletePath(path, isDir) {
    const ok = await openDialog({
      title: isDir ? 'Delete folder' : 'Delete file',
      message: isDir ? `Delete ${path} and everything in it? This cannot be undone.`
                     : `Delete ${path}? This cannot be undone.`,
      okLabel: 'Delete', danger: true,
    });
    if (!ok) return;
    const route = `/files${encodePath(path)}`;
    const done = await attempt('delete', () => api('DELETE', route, {
      query: isDir ? { recursive: 'true' } : undefined,
    }));
    if (!done) return;
    if (state.view === 'file') location.hash = hrefFor('files', parentPath(path));
    else refresh();
  }

  // ------------------------------------------------------------ uploads

  async function startUploads(files, dir) {
    const bad = files.filter((f) => nameProblem(f.name));
    if (bad.length) {
      reportError('upload', new ApiError(0, 'INVALID_NAME',
        `cannot upload ${bad.map((f) => f.name).join(', ')}: ${nameProblem(bad[0].name)}`));
    }
    let good = files.filter((f) => !nameProblem(f.name));
    const existing = new Set(state.view === 'files' && state.path === dir
      ? state.entries.map((e) => e.name) : []);
    const clashes = good.filter((f) => existing.has(f.name));
    if (clashes.length) {
      const dirClash = clashes.filter((f) => state.entries.some((e) => e.name === f.name && e.type === 'dir'));
      if (dirClash.length) {
        reportError('upload', new ApiError(409, 'ALREADY_EXISTS',
          `${dirClash.map((f) => f.name).join(', ')}: a folder with that name exists`));
        good = good.filter((f) => !dirClash.includes(f));
      }
      const fileClash = clashes.filter((f) => !dirClash.includes(f));
      if (fileClash.length) {
        const replace = await openDialog({
          title: 'Replace files?',
          message: `${fileClash.length === 1 ? fileClash[0].name + ' already exists' :
            fileClash.length + ' files already exist'} in ${dir}. Uploading replaces them atomically.`,
          okLabel: 'Replace', danger: true,
        });
        if (!replace) good = good.filter((f) => !fileClash.includes(f));
      }
    }
    for (const file of good) upload(file, joinPath(dir, file.name));
  }

  function upload(file, path) {
    const item = {
      id: `u${Date.now()}${Math.random().toString(36).slice(2, 7)}`,
      name: file.name, path, size: file.size, loaded: 0, state: 'uploading',
      started: Date.now(), samples: [[Date.now(), 0]], message: '', xhr: new XMLHttpRequest(),
    };
    state.uploads.push(item);
    const xhr = item.xhr;
    xhr.open('PUT', fileUrl(path));
    xhr.upload.addEventListener('progress', (e) => {
      item.loaded = e.loaded;
      if (e.lengthComputable) item.size = e.total;
      item.samples.push([Date.now(), e.loaded]);
      while (item.samples.length > 2 && Date.now() - item.samples[1][0] > 3000) item.samples.shift();
      renderUpload(item);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        item.state = 'done';
        item.loaded = item.size;
        try {
          const reply = JSON.parse(xhr.responseText);
          item.message = `${fmtBytes(reply.size)} in ${reply.chunks} chunk${reply.chunks === 1 ? '' : 's'}`;
        } catch (e) { item.message = 'uploaded'; }
        clearError(`upload:${path}`);
        setTimeout(() => removeUpload(item), DONE_UPLOAD_LINGER_MS);
        if (state.view === 'files' && state.path === parentPath(path)) refresh();
      } else {
        item.state = 'failed';
        const error = errorFrom(xhr.status, xhr.statusText, xhr.responseText, `PUT ${path}`);
        item.message = `${error.code}: ${error.message}`;
        reportError(`upload:${path}`, error);
      }
      renderUpload(item);
    });
    xhr.addEventListener('error', () => {
      item.state = 'failed';
      item.message = 'connection to the gateway failed';
      reportError(`upload:${path}`, new ApiError(0, 'UNREACHABLE', item.message, `PUT ${path}`));
      renderUpload(item);
    });
    xhr.addEventListener('abort', () => {
      item.state = 'canceled';
      item.message = 'canceled';
      renderUpload(item);
    });
    xhr.send(file);
    renderUploads();
  }

  function removeUpload(item) {
    state.uploads = state.uploads.filter((u) => u !== item);
    const el = document.getElementById(item.id);
    if (el) el.remove();
  }

  function renderUploads() {
    const panel = $('#uploads');
    if (!panel) return;
    for (const item of state.uploads) {
      if (!document.getElementById(item.id)) panel.append(h('div', { id: item.id }));
      renderUpload(item);
    }
  }

  function renderUpload(item) {
    const el = document.getElementById(item.id);
    if (!el) return;
    const fraction = item.size ? item.loaded / item.size : item.state === 'done' ? 1 : 0;
    let detail;
    if (item.state === 'uploading') {
      const [t0, b0] = item.samples[0];
      const seconds = (Date.now() - t0) / 1000;
      const rate = seconds > 0.2 ? (item.loaded - b0) / seconds : 0;
      const eta = rate > 0 ? fmtDuration((item.size - item.loaded) / rate) : '–';
      detail = item.loaded >= item.size && item.size > 0
        ? `${fmtBytes(item.size)} sent · waiting for the cluster to commit`
        : `${fmtBytes(item.loaded)} / ${fmtBytes(item.size)} · ${rate ? fmtBytes(rate) + '/s' : '–'} · ETA ${eta}`;
    } else {
      detail = item.message;
    }
    el.className = `upload ${item.state}`;
    el.dataset.state = item.state;
    el.dataset.path = item.path;
    replaceChildren(el,
      h('div', { class: 'upload-head' },
        h('span', { class: 'upload-name' }, item.path),
        h('span', { class: 'upload-percent' }, `${Math.floor(fraction * 100)}%`)),
      h('progress', { max: 100, value: Math.floor(fraction * 100), 'aria-label': `upload of ${item.name}` }),
      h('div', { class: 'upload-detail small' }, detail,
        item.state === 'uploading'
          ? h('button', { type: 'button', class: 'link-button', onclick: () => item.xhr.abort() }, 'Cancel')
          : h('button', { type: 'button', class: 'link-button', onclick: () => removeUpload(item) }, 'Dismiss')));
  }

  // ------------------------------------------------------------ file view

  async function refreshFile(token) {
    const path = state.path;
    const [info, cluster] = await Promise.all([
      attempt('fileinfo', () => api('GET', '/fileinfo', { query: { path } })),
      Date.now() - state.clusterAt > 10000
        ? attempt('cluster', loadCluster) : Promise.resolve(state.cluster),
    ]);
    const main = viewRoot(token);
    if (!main || !info) return false;
    if (info.type === 'dir') {
      location.replace(hrefFor('files', path));
      return false;
    }
    const nodeStates = new Map(((cluster && cluster.nodes) || []).map((n) => [String(n.id), n.state]));
    const replication = Number(info.replication) || 0;
    const chunks = Array.isArray(info.chunks) ? info.chunks : [];
    const short = chunks.filter((c) => (c.replicas || []).filter(
      (r) => (nodeStates.get(String(r.node_id)) || 'alive') === 'alive').length < replication).length;

    const facts = h('dl', { class: 'facts' },
      h('dt', {}, 'Size'), h('dd', {}, `${fmtBytes(info.size)} (${Number(info.size).toLocaleString()} bytes)`),
      h('dt', {}, 'SHA-256'), h('dd', { class: 'mono wrap', id: 'file-sha256' }, info.sha256 || '–'),
      h('dt', {}, 'Replication'), h('dd', {}, String(replication || '–')),
      h('dt', {}, 'Modified'), h('dd', {}, fmtTime(info.mtime)),
      h('dt', {}, 'Chunks'), h('dd', {}, `${chunks.length}`,
        short ? h('span', { class: 'badge warn' }, `${short} under-replicated`) : null));

    const rows = chunks.map((c) => {
      const replicas = c.replicas || [];
      const live = replicas.filter((r) => (nodeStates.get(String(r.node_id)) || 'alive') === 'alive').length;
      return h('tr', { dataset: { chunk: c.index }, class: live < replication ? 'short' : '' },
        h('td', { 'data-label': 'Chunk', class: 'num' }, String(c.index)),
        h('td', { 'data-label': 'Handle', class: 'mono' }, String(c.handle)),
        h('td', { 'data-label': 'Version', class: 'num' }, String(c.version)),
        h('td', { 'data-label': 'Offset', class: 'num', title: 'where the extent starts in its chunk' },
          fmtBytes(c.offset || 0)),
        h('td', { 'data-label': 'Size', class: 'num' }, fmtBytes(c.size)),
        h('td', { 'data-label': 'Replicas' },
          replicas.length ? replicas.map((r) => {
            const nodeState = nodeStates.get(String(r.node_id)) || 'unknown';
            return h('span', { class: `chip ${nodeStateClass(nodeState)}`,
                               title: `${r.address || '?'} · zone ${r.zone || '?'} · ${nodeState}` },
                     `${r.node_id}`, h('span', { class: 'muted' }, ` ${r.zone || ''}`));
          }) : h('span', { class: 'badge bad' }, 'no live replica')));
    });

    replaceChildren(main,
      h('section', { id: 'file-view' },
        h('div', { class: 'toolbar' },
          breadcrumbs('files', path),
          h('div', { class: 'actions' },
            h('a', { class: 'button primary', href: fileUrl(path), download: baseName(path) }, 'Download'),
            h('button', { type: 'button', onclick: () => renamePath(path) }, 'Rename'),
            h('button', { type: 'button', class: 'danger', onclick: () => deletePath(path, false) }, 'Delete'))),
        h('h1', { class: 'wrap' }, baseName(path)),
        facts,
        h('h2', {}, 'Chunks'),
        chunks.length
          ? h('table', { id: 'chunk-table', class: 'data responsive' },
              h('thead', {}, h('tr', {}, h('th', { class: 'num' }, '#'), h('th', {}, 'Handle'),
                               h('th', { class: 'num' }, 'Version'), h('th', { class: 'num' }, 'Offset'),
                               h('th', { class: 'num' }, 'Size'),
                               h('th', {}, 'Replicas'))),
              h('tbody', {}, rows))
          : h('p', { class: 'empty' }, 'An empty file has no chunks.')));
    return true;
  }

  // ------------------------------------------------------------ usage

  async function refreshUsage(token) {
    const path = state.path;
    const usage = await attempt('usage', () => api('GET', '/usage', { query: { path } }));
    const main = viewRoot(token);
    if (!main || !usage) return false;
    const children = (usage.children || []).slice().sort((a, b) => (b.bytes || 0) - (a.bytes || 0) ||
                                                               naturalCompare(a.name, b.name));
    const totalBytes = children.reduce((s, c) => s + (Number(c.bytes) || 0), 0);
    const totalFiles = children.reduce((s, c) => s + (Number(c.files) || 0), 0);
    const rows = children.map((c) => {
      const childPath = joinPath(path, c.name);
      const isDir = c.type !== 'file';
      const share = totalBytes ? (Number(c.bytes) || 0) / totalBytes : 0;
      return h('tr', { dataset: { name: c.name } },
        h('td', { 'data-label': 'Name', class: 'name' },
          isDir ? h('a', { href: hrefFor('usage', childPath), title: 'Usage inside' }, `${c.name}/`) : c.name,
          ' ', h('a', { class: 'muted small', href: hrefFor(isDir ? 'files' : 'file', childPath) }, 'browse')),
        h('td', { 'data-label': 'Files', class: 'num' }, Number(c.files || 0).toLocaleString()),
        h('td', { 'data-label': 'Size', class: 'num' }, fmtBytes(c.bytes)),
        h('td', { 'data-label': 'Share', class: 'usage-cell' }, bar(share, `share of ${c.name}`),
          h('span', { class: 'small' }, fmtPercent(share * 100))));
    });
    replaceChildren(main,
      h('section', { id: 'usage' },
        h('h1', {}, path === '/' ? 'Usage by top-level directory' : 'Usage'),
        breadcrumbs('usage', path),
        h('div', { class: 'cards' },
          card('Files', totalFiles.toLocaleString(), `under ${path}`),
          card('Bytes', fmtBytes(totalBytes), 'logical size, before replication')),
        children.length
          ? h('table', { id: 'usage-table', class: 'data responsive' },
              h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', { class: 'num' }, 'Files'),
                               h('th', { class: 'num' }, 'Size'), h('th', {}, 'Share'))),
              h('tbody', {}, rows))
          : h('p', { class: 'empty' }, 'Nothing stored here yet.')));
    return true;
  }

  // ------------------------------------------------------------ start

  function start() {
    const auto = $('#auto-refresh');
    auto.checked = localStorage.getItem('cairn.autoRefresh') !== 'off';
    auto.addEventListener('change', () => {
      localStorage.setItem('cairn.autoRefresh', auto.checked ? 'on' : 'off');
    });
    $('#refresh-now').addEventListener('click', () => refresh());
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) tick();
    });
    window.addEventListener('hashchange', route);
    setInterval(tick, 1000);
    if (!location.hash) history.replaceState(null, '', '#/overview');
    route();
  }

  start();
})();
