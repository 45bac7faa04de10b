/**
 * Inline scripts of the job pages. They read everything from the DOM (data attributes), never from
 * values pasted into the script, so user text cannot break out of it; they write with textContent.
 */

/** Job page: polls GET /jobs/{id} (JSON) every 500 ms while the job is accepted/running and updates in place. */
export const JOB_PAGE_SCRIPT = `(() => {
  const root = document.getElementById('job');
  if (!root) return;
  const url = root.dataset.statusUrl;
  const bar = document.getElementById('job-progress');
  const field = (name) => root.querySelector('[data-field="' + name + '"]');
  const isLive = (s) => s === 'accepted' || s === 'running';
  const shortDate = (iso) => (iso ? iso.replace('T', ' ').replace(/\\.\\d+Z$/, 'Z') : '');
  let problemShown = false;
  const showProblem = () => {
    if (problemShown) return;
    problemShown = true;
    fetch(url + '/results', { headers: { Accept: 'application/json' } })
      .then((r) => r.json())
      .then((p) => {
        const pre = field('problem');
        pre.textContent = JSON.stringify(p, null, 2);
        pre.hidden = false;
        if (p && p.detail) field('error-detail').textContent = p.detail;
      })
      .catch(() => {});
  };
  const render = (d) => {
    const badge = field('status');
    badge.textContent = d.status;
    badge.className = 'badge status-' + d.status;
    root.dataset.status = d.status;
    const p = typeof d.progress === 'number' ? d.progress : d.status === 'successful' ? 100 : Number(bar.value) || 0;
    bar.value = p;
    field('progress').textContent = p + ' %';
    field('message').textContent = d.message || '';
    for (const k of ['created', 'started', 'finished', 'updated']) field(k).textContent = shortDate(d[k]);
    const list = field('warnings');
    list.textContent = '';
    for (const w of d.warnings || []) {
      const li = document.createElement('li');
      li.className = 'warning';
      li.textContent = w;
      list.appendChild(li);
    }
    if (Array.isArray(d.links)) {
      const ul = document.createElement('ul');
      ul.className = 'links';
      for (const l of d.links) {
        const li = document.createElement('li');
        const a = document.createElement('a');
        a.href = l.href;
        if (l.rel) a.rel = l.rel;
        if (l.type) a.type = l.type;
        a.textContent = l.title || l.href;
        const small = document.createElement('small');
        small.textContent = [l.rel, l.type].filter(Boolean).join(' · ');
        li.append(a, ' ', small);
        ul.appendChild(li);
      }
      const old = document.querySelector('#job-links ul.links');
      if (old) old.replaceWith(ul);
    }
    document.getElementById('dismiss').hidden = !isLive(d.status);
    document.getElementById('results').hidden = d.status !== 'successful';
    document.getElementById('failure').hidden = d.status !== 'failed';
    if (d.status === 'failed') {
      field('error-detail').textContent = d.message || '';
      showProblem();
    }
  };
  const poll = () => {
    fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error('HTTP ' + r.status))))
      .then((d) => {
        render(d);
        if (isLive(d.status)) setTimeout(poll, 500);
      })
      .catch(() => setTimeout(poll, 2000));
  };
  document.getElementById('dismiss').addEventListener('click', () => {
    // Dismissing cannot be undone: the job stops and its partial results are removed.
    if (!window.confirm('Dismiss this job? It stops, and what it has written so far is removed.')) return;
    fetch(url, { method: 'DELETE', headers: { Accept: 'application/json' } })
      .then((r) => r.json())
      .then(render)
      .catch(() => {});
  });
  if (isLive(root.dataset.status)) setTimeout(poll, 500);
  if (root.dataset.status === 'failed') showProblem();
})();`;

/** Job list: leaves empty filter fields out of the URL so that the query stays readable. */
export const JOB_LIST_SCRIPT = `(() => {
  const form = document.querySelector('form.filter');
  if (!form) return;
  form.addEventListener('submit', () => {
    for (const el of form.querySelectorAll('input')) if (el.type !== 'checkbox' && el.value === '') el.disabled = true;
  });
})();`;
