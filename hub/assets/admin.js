// The admin page (hub.md §10): the admin token lives in sessionStorage and goes to the admin API
// (§9) as a bearer token; no cookies are sent. Untrusted text is only ever set as textContent.
'use strict';
(() => {
  const KEY = 'goop-hub-admin-token';
  const $ = (id) => document.getElementById(id);
  const el = (tag, props, ...kids) => {
    const node = Object.assign(document.createElement(tag), props || {});
    node.append(...kids.map((k) => (k instanceof Node ? k : String(k ?? ''))));
    return node;
  };
  const td = (...kids) => el('td', null, ...kids);
  const when = (ms) => (ms ? new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : '—');
  const enc = encodeURIComponent;

  const say = (text, bad) => {
    const s = $('status');
    s.textContent = text;
    s.className = bad ? 'alert' : 'notice';
  };

  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + sessionStorage.getItem(KEY), 'X-Goop-Admin-Actor': 'web' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch('/api/v1/admin/' + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
    if (res.status === 401 || res.status === 404 && path === 'stats') {
      lock(res.status === 401 ? 'The token was refused.' : 'This hub has no admin token configured.');
      throw new Error('locked');
    }
    if (!res.ok) {
      let text = 'HTTP ' + res.status;
      try {
        const e = (await res.json()).error;
        text = e.code + ': ' + e.message;
      } catch (_) { /* not JSON */ }
      throw new Error(text);
    }
    return res.status === 204 ? null : res.json();
  }

  const guard = (promise) => promise.catch((e) => {
    if (e.message !== 'locked') say(e.message, true);
  });

  // Runs an action; `undefined` from `action` means the user cancelled a prompt.
  const act = (action, reload) => guard((async () => {
    if ((await action()) === undefined) return;
    say('Done.');
    await reload();
  })());

  const button = (label, action, reload, cls) =>
    el('button', { type: 'button', className: 'small ' + (cls || ''), textContent: label, onclick: () => act(action, reload) });

  const reject = (id) => () => {
    const reason = prompt('Reason for rejecting (kept in the audit log)');
    return reason === null ? undefined : api('POST', `members/${enc(id)}/reject`, { reason });
  };

  // Members.
  let membersNext = null;
  async function loadMembers(more) {
    const form = $('member-search');
    const q = new URLSearchParams();
    for (const name of ['q', 'state', 'tier']) if (form.elements[name].value) q.set(name, form.elements[name].value);
    if (more && membersNext) q.set('cursor', membersNext);
    const data = await api('GET', 'members?' + q);
    const body = $('members-body');
    if (!more) body.replaceChildren();
    for (const m of data.items) body.append(memberRow(m));
    membersNext = data.next;
    $('members-more').hidden = !data.next;
  }
  const reloadMembers = () => loadMembers(false);

  function memberRow(m) {
    const id = m.id;
    const actions = el('td', { className: 'actions' });
    if (m.state === 'pending_approval') {
      actions.append(button('Approve', () => api('POST', `members/${enc(id)}/approve`, {}), reloadMembers));
      actions.append(button('Reject', reject(id), reloadMembers, 'danger'));
    }
    if (m.state === 'banned') {
      actions.append(button('Unban', () => api('POST', `members/${enc(id)}/unban`, {}), reloadMembers));
    } else {
      actions.append(button('Ban', () => {
        const reason = prompt('Reason for the ban');
        if (reason === null) return undefined;
        const cancel = confirm('Also cancel a running subscription?');
        return api('POST', `members/${enc(id)}/ban`, { reason, cancel_subscription: cancel });
      }, reloadMembers, 'danger'));
    }
    if (m.comped_at || m.tier === 'comped') {
      actions.append(button('Uncomp', () => api('DELETE', `members/${enc(id)}/comp`), reloadMembers));
    } else {
      actions.append(button('Comp', () => {
        const day = prompt('Complimentary access until (YYYY-MM-DD); leave empty for no end');
        if (day === null) return undefined;
        const until = day.trim() ? Date.parse(day.trim() + 'T23:59:59Z') : null;
        if (Number.isNaN(until)) throw new Error('Not a date: ' + day);
        return api('POST', `members/${enc(id)}/comp`, { until });
      }, reloadMembers));
    }
    const peers = Array.isArray(m.peers) ? m.peers.length : 0;
    return el('tr', null, td(m.email || '—'), td(m.state), td(m.tier), td(when(m.created_at)), td(peers), actions);
  }

  // Applications.
  async function loadApplications() {
    const data = await api('GET', 'applications?status=pending');
    const body = $('applications-body');
    body.replaceChildren();
    if (!data.items.length) body.append(el('tr', null, el('td', { colSpan: 4, textContent: 'No pending applications.' })));
    for (const a of data.items) {
      const actions = el('td', { className: 'actions' },
        button('Approve', () => api('POST', `members/${enc(a.account_id)}/approve`, {}), loadApplications),
        button('Reject', reject(a.account_id), loadApplications, 'danger'));
      body.append(el('tr', null, td(a.email), el('td', { className: 'message', textContent: a.message }), td(when(a.created_at)), actions));
    }
  }

  // Invites.
  async function loadInvites() {
    const data = await api('GET', 'invites?include_revoked=' + $('include-revoked').checked);
    const body = $('invites-body');
    body.replaceChildren();
    for (const i of data.items) {
      const actions = el('td', { className: 'actions' });
      if (i.revoked_at) actions.append('revoked');
      else actions.append(button('Revoke', () => api('DELETE', 'invites/' + enc(i.code)), loadInvites, 'danger'));
      body.append(el('tr', null, td(el('code', { textContent: i.code })), td(`${i.uses} / ${i.max_uses}`),
        td(i.expires_at ? when(i.expires_at) : 'never'), td(i.note || ''), actions));
    }
  }

  async function createInvite(event) {
    event.preventDefault();
    const f = event.target.elements;
    const days = f.days.value.trim();
    const body = { max_uses: Number(f.max_uses.value), expires_in_secs: days ? Number(days) * 86400 : null };
    if (f.note.value.trim()) body.note = f.note.value.trim();
    await guard(api('POST', 'invites', body).then((invite) => {
      say('Invite created: ' + invite.code);
      return loadInvites();
    }));
  }

  // Stats: nested objects flattened into "a / b" rows.
  async function loadStats() {
    const list = $('stats');
    list.replaceChildren();
    const walk = (value, path) => {
      if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) walk(v, path ? path + ' / ' + k : k);
      } else {
        list.append(el('dt', { textContent: path }), el('dd', { textContent: String(value) }));
      }
    };
    walk(await api('GET', 'stats'), '');
  }

  // Audit log.
  let auditNext = null;
  async function loadAudit(more) {
    const data = await api('GET', 'audit?limit=50' + (more && auditNext ? '&cursor=' + enc(auditNext) : ''));
    const body = $('audit-body');
    if (!more) body.replaceChildren();
    for (const r of data.items) {
      const details = r.details === undefined || r.details === null ? '' : typeof r.details === 'string' ? r.details : JSON.stringify(r.details);
      body.append(el('tr', null, td(when(r.at ?? r.created_at)), td(r.actor), td(r.action),
        td([r.target_type, r.target_id].filter(Boolean).join(' ')), el('td', { className: 'message', textContent: details })));
    }
    auditNext = data.next;
    $('audit-more').hidden = !data.next;
  }

  const loaders = {
    members: reloadMembers,
    applications: loadApplications,
    invites: loadInvites,
    stats: loadStats,
    audit: () => loadAudit(false),
  };
  let current = 'members';

  async function show(tab) {
    current = tab;
    for (const b of document.querySelectorAll('[data-tab]')) b.setAttribute('aria-pressed', String(b.dataset.tab === tab));
    for (const name of Object.keys(loaders)) $('tab-' + name).hidden = name !== tab;
    await guard(loaders[tab]());
  }

  function lock(reason) {
    sessionStorage.removeItem(KEY);
    $('admin').hidden = true;
    $('unlock').hidden = false;
    $('admin-token').value = '';
    if (reason) {
      const form = $('token-form');
      let note = $('lock-reason');
      if (!note) {
        note = el('p', { id: 'lock-reason', className: 'alert', role: 'alert' });
        form.prepend(note);
      }
      note.textContent = reason;
    }
    $('admin-token').focus();
  }

  // The stats call checks the token first: 401 for a wrong one, 404 when the hub has none.
  async function unlock() {
    try {
      await api('GET', 'stats');
    } catch (e) {
      if (e.message !== 'locked') lock(e.message);
      return;
    }
    $('unlock').hidden = true;
    $('admin').hidden = false;
    say('');
    await show(current);
  }

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $('admin-token').value.trim());
    unlock();
  });
  $('lock').addEventListener('click', () => lock(''));
  $('member-search').addEventListener('submit', (event) => {
    event.preventDefault();
    show('members');
  });
  $('members-more').addEventListener('click', () => guard(loadMembers(true)));
  $('audit-more').addEventListener('click', () => guard(loadAudit(true)));
  $('invite-form').addEventListener('submit', createInvite);
  $('include-revoked').addEventListener('change', () => show('invites'));
  for (const b of document.querySelectorAll('[data-tab]')) b.addEventListener('click', () => show(b.dataset.tab));

  if (sessionStorage.getItem(KEY)) unlock();
})();
