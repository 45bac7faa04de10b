/**
 * Inline script of the upload pages. Like the job pages' scripts, it reads URLs from data attributes,
 * never from values pasted into it, and writes with textContent, so user text (names, logs) stays inert.
 * Files go one after the other by multipart POST (field `file`, as the API takes them) through
 * XMLHttpRequest: fetch does not report upload progress.
 */
export const UPLOAD_PAGE_SCRIPT = `(() => {
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };
  const bytes = (n) => (n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : n < 1073741824 ? (n / 1048576).toFixed(1) + ' MiB' : (n / 1073741824).toFixed(2) + ' GiB');
  const shortDate = (iso) => (iso ? iso.replace('T', ' ').replace(/\\.\\d+Z$/, 'Z') : '');
  const problemText = async (r) => {
    try {
      const p = await r.json();
      return p.detail || p.title || String(r.status);
    } catch {
      return String(r.status);
    }
  };

  const create = document.getElementById('create-upload');
  if (create) {
    create.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const data = new FormData(create);
      const body = { name: data.get('name'), description: data.get('description') || '', type: 'RASTER', srs: data.get('srs') };
      const r = await fetch(create.dataset.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const err = create.querySelector('[data-field="create-error"]');
      if (r.status !== 201) {
        err.textContent = await problemText(r);
        err.hidden = false;
        return;
      }
      location.href = r.headers.get('Location') + '?f=html';
    });
  }

  const root = document.getElementById('upload');
  if (!root) return;
  const url = root.dataset.url;
  const field = (name) => root.querySelector('[data-field="' + name + '"]');
  const form = document.getElementById('send-files');
  const closeButton = document.getElementById('close-upload');
  const openButton = document.getElementById('open-upload');
  const showError = (text) => {
    const e = field('action-error');
    e.textContent = text || '';
    e.hidden = !text;
  };

  const renderTree = (entries) => {
    const ul = el('ul', undefined, 'tree');
    for (const e of entries) {
      const li = el('li');
      if (e.type === 'DIRECTORY') {
        li.dataset.dir = e.name;
        li.append(el('span', '📁 ' + e.name + '/ '), el('small', bytes(e.size), 'muted'), renderTree(e.children || []));
      } else {
        li.dataset.file = e.name;
        li.append(el('span', e.name + ' '), el('small', bytes(e.size), 'muted'));
      }
      ul.appendChild(li);
    }
    return ul;
  };
  const renderChecks = (u) => {
    const body = document.getElementById('checks');
    body.textContent = '';
    for (const c of u.checks || []) {
      const tr = el('tr');
      tr.dataset.check = c.check._id;
      const state = el('span', c.status, 'badge check-' + c.status);
      state.dataset.field = 'state';
      const job = el('td');
      if (c._id) {
        const a = el('a', c._id.slice(0, 8) + '…');
        a.href = root.dataset.url.replace(/\\/uploads\\/[^/]+$/, '/jobs/') + encodeURIComponent(c._id) + '?f=html';
        job.appendChild(a);
      }
      const details = el('td');
      if (c._id) {
        const a = el('a', 'execution');
        a.href = url + '/checks/' + encodeURIComponent(c._id);
        details.appendChild(a);
      }
      const logs = el('pre', (c.logs || []).join('\\n'), 'logs');
      logs.dataset.field = 'logs';
      const stateCell = el('td');
      stateCell.appendChild(state);
      const logCell = el('td');
      logCell.appendChild(logs);
      tr.append(el('td', c.check.name), stateCell, job, details, logCell);
      body.appendChild(tr);
    }
  };
  const render = (u) => {
    root.dataset.status = u.status;
    const badge = field('status');
    badge.textContent = u.status;
    badge.className = 'badge upload-' + u.status;
    field('size').textContent = bytes(u.size);
    field('last-event').textContent = u.last_event.title + ' (' + shortDate(u.last_event.date) + ')';
    form.hidden = u.status !== 'OPEN';
    closeButton.hidden = u.status !== 'OPEN';
    openButton.hidden = u.status !== 'CLOSED' && u.status !== 'UNSTABLE';
    renderChecks(u);
  };
  const refresh = async () => {
    const [u, tree] = await Promise.all([
      fetch(url, { headers: { Accept: 'application/json' } }).then((r) => r.json()),
      fetch(url + '/tree', { headers: { Accept: 'application/json' } }).then((r) => r.json()),
    ]);
    const holder = document.getElementById('tree');
    holder.textContent = '';
    holder.appendChild(tree.length ? renderTree(tree) : el('p', 'no file yet', 'muted'));
    render(u);
    return u;
  };
  const follow = async () => {
    for (;;) {
      const u = await refresh();
      if (u.status !== 'CHECKING') return;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const send = (file, path, bar, label) =>
    new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', url + '/data?path=' + encodeURIComponent(path));
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
      };
      xhr.onload = () => {
        let detail = '';
        try {
          detail = JSON.parse(xhr.responseText).detail || '';
        } catch {}
        if (xhr.status === 200) {
          bar.value = 100;
          label.textContent = path + ': sent';
          label.dataset.state = 'sent';
        } else {
          label.textContent = path + ': refused (' + xhr.status + ') ' + detail;
          label.dataset.state = 'refused';
        }
        resolve(xhr.status === 200);
      };
      xhr.onerror = () => {
        label.textContent = path + ': the connection failed';
        label.dataset.state = 'refused';
        resolve(false);
      };
      const body = new FormData();
      body.append('file', file, file.name);
      xhr.send(body);
    });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = form.querySelector('input[type="file"]');
    const folder = form.querySelector('input[name="folder"]').value.trim().replace(/^\\/+|\\/+$/g, '');
    const list = document.getElementById('transfers');
    const button = form.querySelector('button');
    button.disabled = true;
    for (const file of [...input.files]) {
      const path = (folder ? folder + '/' : '') + file.name;
      const li = el('li');
      li.dataset.path = path;
      const bar = el('progress');
      bar.max = 100;
      bar.value = 0;
      const label = el('span', path + ': sending');
      li.append(bar, el('span', ' '), label);
      list.appendChild(li);
      await send(file, path, bar, label);
    }
    input.value = '';
    button.disabled = false;
    await refresh();
  });

  const post = async (action) => {
    showError('');
    const r = await fetch(url + '/' + action, { method: 'POST', headers: { Accept: 'application/json' } });
    if (r.status >= 400) showError(await problemText(r));
    await follow();
  };
  closeButton.addEventListener('click', () => post('close'));
  openButton.addEventListener('click', () => post('open'));
  if (root.dataset.status === 'CHECKING') follow();
})();`;
