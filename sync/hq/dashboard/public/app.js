/* Ops dashboard page (#20). Plain DOM, no inline script or style (CSP), text always through
 * textContent. State arrives as server-sent events (fleet, alarms, commands); actions are
 * JSON POSTs with the session's CSRF token. */
(function () {
  'use strict';
  var S = {
    lang: localStorage.getItem('hqdash.lang') || 'vi', cat: {}, session: null, tab: location.hash.slice(1) || 'fleet',
    fleet: null, alarms: [], commands: [], live: false, es: null,
    sort: { key: 'stationId', dir: 1 }, filter: { unit: '', text: '', state: '' },
    campaigns: [], campaign: null, level: 'ward', summary: null, notice: null,
  };

  function t(key, vars) {
    var s = S.cat[key];
    if (s === undefined) s = key;
    if (vars) Object.keys(vars).forEach(function (k) { s = s.split('{' + k + '}').join(String(vars[k])); });
    return s;
  }
  window.HQ = { t: t, state: S };

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') el.textContent = v;
      else if (k === 'class') el.className = v;
      else if (k === 'testid') el.setAttribute('data-testid', v);
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) c.forEach(function (x) { if (x) el.appendChild(typeof x === 'string' ? document.createTextNode(x) : x); });
      else el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return el;
  }

  function api(method, path, body) {
    var o = { method: method, headers: {}, credentials: 'same-origin' };
    if (method !== 'GET') {
      o.headers['Content-Type'] = 'application/json';
      if (S.session) o.headers['X-CSRF-Token'] = S.session.csrf;
      o.body = JSON.stringify(body || {});
    }
    return fetch(path, o).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          var e = new Error((j.error && j.error.message) || r.statusText);
          e.code = j.error && j.error.code; e.status = r.status; e.hint = j.error && j.error.hint;
          if (r.status === 401 && path !== '/api/login') { S.session = null; S.notice = { kind: 'error', text: t('error.session') }; stopEvents(); render(); }
          throw e;
        }
        return j;
      });
    });
  }

  function loadCatalogue() {
    return fetch('/i18n/' + S.lang + '.json').then(function (r) { return r.json(); }).then(function (c) { S.cat = c; document.documentElement.lang = S.lang; document.title = t('app.title'); });
  }

  function ago(ms) {
    if (ms === null || ms === undefined) return t('never');
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 120) return t('ago.s', { n: s });
    if (s < 7200) return t('ago.m', { n: Math.round(s / 60) });
    if (s < 172800) return t('ago.h', { n: Math.round(s / 3600) });
    return t('ago.d', { n: Math.round(s / 86400) });
  }
  function age(ms) { return ms === null || ms === undefined ? '–' : ago(Date.now() - ms); }
  function fmtTime(ms) { return ms ? new Date(ms).toLocaleString(S.lang === 'vi' ? 'vi-VN' : 'en-GB') : '–'; }
  function fmtNum(n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString(S.lang === 'vi' ? 'vi-VN' : 'en-GB'); }
  function fmtPct(p) { return p === null || p === undefined ? '–' : (p * 100).toLocaleString(S.lang === 'vi' ? 'vi-VN' : 'en-GB', { maximumFractionDigits: 1 }) + ' %'; }
  function bytes(n) { if (n === null || n === undefined) return '–'; var u = ['B', 'KB', 'MB', 'GB', 'TB']; var i = 0; while (n >= 1024 && i < 4) { n /= 1024; i++; } return n.toFixed(i ? 1 : 0) + ' ' + u[i]; }

  /* ---------- live events ---------- */
  function startEvents() {
    stopEvents();
    var es = new EventSource('/api/events');
    S.es = es;
    es.addEventListener('open', function () { S.live = true; renderStatus(); });
    es.addEventListener('error', function () { S.live = false; renderStatus(); if (es.readyState === 2) setTimeout(function () { if (S.session) api('GET', '/api/session').then(startEvents, function () {}); }, 3000); });
    es.addEventListener('fleet', function (e) { S.fleet = JSON.parse(e.data); S.live = true; if (S.tab === 'fleet') renderMain(); renderStatus(); });
    es.addEventListener('alarms', function (e) { S.alarms = JSON.parse(e.data); renderTabs(); if (S.tab === 'alarms' || S.tab === 'fleet') renderMain(); });
    es.addEventListener('commands', function (e) { S.commands = JSON.parse(e.data); if (S.tab === 'commands' || S.tab === 'fleet') renderMain(); });
  }
  function stopEvents() { if (S.es) { S.es.close(); S.es = null; } S.live = false; }

  /* ---------- frame ---------- */
  function render() {
    var app = document.getElementById('app');
    app.textContent = '';
    if (!S.session) { app.appendChild(loginView()); return; }
    app.appendChild(h('header', { class: 'top' },
      h('h1', { text: t('app.title') }),
      h('nav', { id: 'tabs', class: 'tabs' }),
      h('div', { id: 'status', class: 'status', testid: 'live' }),
      h('div', { class: 'who' },
        h('span', { testid: 'who', text: S.session.user + ' (' + t('role.' + S.session.role) + ')' }),
        h('button', { class: 'link', testid: 'lang', onclick: switchLang, text: t('lang.switch') }),
        h('button', { class: 'link', testid: 'logout', onclick: logout, text: t('logout') }))));
    app.appendChild(h('div', { id: 'notice' }));
    app.appendChild(h('main', { id: 'main' }));
    renderTabs(); renderStatus(); renderNotice(); renderMain();
  }

  function renderTabs() {
    var nav = document.getElementById('tabs');
    if (!nav) return;
    nav.textContent = '';
    ['fleet', 'campaign', 'alarms', 'commands'].forEach(function (k) {
      var label = t('tab.' + k) + (k === 'alarms' && S.alarms.length ? ' (' + S.alarms.length + ')' : '');
      nav.appendChild(h('button', { class: 'tab' + (S.tab === k ? ' on' : ''), testid: 'tab-' + k, onclick: function () { S.tab = k; location.hash = k; renderTabs(); renderMain(); }, text: label }));
    });
  }

  function renderStatus() {
    var el = document.getElementById('status');
    if (!el) return;
    el.textContent = '';
    el.className = 'status ' + (S.live ? 'ok' : 'bad');
    el.appendChild(document.createTextNode(S.live ? t('live.connected') : t('live.disconnected')));
    if (S.fleet && S.fleet.broker === 'disconnected') el.appendChild(h('span', { class: 'warn', testid: 'broker-down', text: ' · ' + t('broker.disconnected') }));
  }

  function renderNotice() {
    var el = document.getElementById('notice');
    if (!el) return;
    el.textContent = '';
    if (!S.notice) return;
    el.appendChild(h('div', { class: 'notice ' + S.notice.kind, testid: 'notice', role: S.notice.kind === 'error' ? 'alert' : 'status' },
      h('span', { text: S.notice.text }), h('button', { class: 'link', text: '×', 'aria-label': 'close', onclick: function () { S.notice = null; renderNotice(); } })));
  }
  function notify(kind, text) { S.notice = { kind: kind, text: text }; renderNotice(); }
  function fail(e) { notify('error', e.status === 403 && e.code === 'DASH_FORBIDDEN' ? t('error.forbidden') + ' — ' + e.message : t('error.generic', { message: e.message + (e.hint ? ' (' + e.hint + ')' : '') })); }

  function renderMain() {
    var m = document.getElementById('main');
    if (!m) return;
    var keepFocus = document.activeElement && document.activeElement.id;
    m.textContent = '';
    if (S.tab === 'fleet') m.appendChild(fleetView());
    else if (S.tab === 'alarms') m.appendChild(alarmsView());
    else if (S.tab === 'commands') m.appendChild(commandsView());
    else if (S.tab === 'campaign') m.appendChild(campaignView());
    if (keepFocus) { var f = document.getElementById(keepFocus); if (f) { f.focus(); if (f.setSelectionRange && f.value) f.setSelectionRange(f.value.length, f.value.length); } }
  }

  /* ---------- login ---------- */
  function loginView() {
    var err = h('p', { class: 'error', testid: 'login-error', role: 'alert' });
    var user = h('input', { id: 'login-user', testid: 'login-user', autocomplete: 'username', required: true });
    var pw = h('input', { id: 'login-password', testid: 'login-password', type: 'password', autocomplete: 'current-password', required: true });
    var form = h('form', { class: 'login', onsubmit: function (e) {
      e.preventDefault();
      err.textContent = '';
      api('POST', '/api/login', { user: user.value, password: pw.value }).then(function (s) {
        S.session = s; S.notice = null; pw.value = '';
        return api('GET', '/api/session').then(function (full) { S.session = full; render(); startEvents(); });
      }, function (e) { err.textContent = e.message + (e.hint ? ' — ' + e.hint : ''); });
    } },
    h('h1', { text: t('login.title') }),
    h('label', { for: 'login-user', text: t('login.user') }), user,
    h('label', { for: 'login-password', text: t('login.password') }), pw,
    h('button', { type: 'submit', testid: 'login-submit', class: 'primary', text: t('login.submit') }), err,
    h('button', { type: 'button', class: 'link', onclick: switchLang, text: t('lang.switch') }));
    return form;
  }

  function logout() { api('POST', '/api/logout', {}).then(function () {}, function () {}).then(function () { stopEvents(); S.session = null; render(); }); }
  function switchLang() { S.notice = null; S.lang = S.lang === 'vi' ? 'en' : 'vi'; localStorage.setItem('hqdash.lang', S.lang); loadCatalogue().then(render); }

  /* ---------- fleet ---------- */
  var COLS = [
    ['stationId', 'col.station'], ['unit', 'col.unit'], ['state', 'col.state'], ['lastContact', 'col.lastContact'], ['backlog', 'col.backlog'],
    ['oldestBacklogAgeMs', 'col.oldest'], ['devices', 'col.devices'], ['battery', 'col.battery'], ['diskFreeBytes', 'col.disk'],
    ['version', 'col.version'], ['enrollmentsToday', 'col.today'], ['alarms', 'col.alarms'],
  ];
  /** Device states that are not a fault (a simulated device in a training booth is not broken). */
  function devOk(d) { return ['ok', 'ready', 'simulated', 'idle', 'busy'].indexOf(d.state) >= 0; }
  function lastContact(s) { return Math.max(s.statusAt || 0, s.healthAt || 0, s.lastReceiptAt || 0) || null; }
  function sortValue(s, key) {
    if (key === 'lastContact') return lastContact(s) || 0;
    if (key === 'battery') { var p = S.fleet.power[s.stationId]; return p && p.capacityPct !== null ? p.capacityPct : -1; }
    if (key === 'alarms') return S.fleet.alarms[s.stationId] || 0;
    if (key === 'devices') return s.devices.filter(function (d) { return !devOk(d); }).length;
    var v = s[key];
    return v === null || v === undefined ? '' : v;
  }

  function fleetView() {
    var f = S.fleet;
    if (!f) return h('p', { class: 'loading', text: '…' });
    var units = {};
    f.stations.forEach(function (s) { units[s.unit || '–'] = true; });
    var count = { online: 0, lost: 0, offline: 0 };
    f.stations.forEach(function (s) { if (count[s.state] !== undefined) count[s.state]++; });
    var rows = f.stations.filter(function (s) {
      if (S.filter.unit && (s.unit || '–') !== S.filter.unit) return false;
      if (S.filter.state && s.state !== S.filter.state) return false;
      if (S.filter.text && (s.stationId + ' ' + (s.unit || '')).toLowerCase().indexOf(S.filter.text.toLowerCase()) < 0) return false;
      return true;
    });
    var k = S.sort.key;
    rows.sort(function (a, b) { var x = sortValue(a, k), y = sortValue(b, k); return (x < y ? -1 : x > y ? 1 : a.stationId < b.stationId ? -1 : 1) * S.sort.dir; });
    var canCmd = S.session.role === 'operator' && S.session.commands && S.session.commands.length;

    var unitSel = h('select', { id: 'f-unit', testid: 'filter-unit', onchange: function (e) { S.filter.unit = e.target.value; renderMain(); } },
      h('option', { value: '', text: t('fleet.filter.all') }),
      Object.keys(units).sort().map(function (u) { var o = h('option', { value: u, text: u }); if (u === S.filter.unit) o.selected = true; return o; }));
    var stateSel = h('select', { id: 'f-state', testid: 'filter-state', onchange: function (e) { S.filter.state = e.target.value; renderMain(); } },
      h('option', { value: '', text: t('fleet.filter.anyState') }),
      ['online', 'lost', 'offline', 'unknown'].map(function (x) { var o = h('option', { value: x, text: t('state.' + x) }); if (x === S.filter.state) o.selected = true; return o; }));
    var text = h('input', { id: 'f-text', testid: 'filter-text', placeholder: t('fleet.filter.text'), value: S.filter.text, oninput: function (e) { S.filter.text = e.target.value; renderMain(); } });

    var head = h('tr', null, COLS.map(function (c) {
      var on = S.sort.key === c[0];
      return h('th', { class: 'sortable' + (on ? ' on' : ''), testid: 'sort-' + c[0], 'aria-sort': on ? (S.sort.dir > 0 ? 'ascending' : 'descending') : 'none',
        onclick: function () { if (S.sort.key === c[0]) S.sort.dir = -S.sort.dir; else { S.sort.key = c[0]; S.sort.dir = 1; } renderMain(); } }, t(c[1]) + (on ? (S.sort.dir > 0 ? ' ▲' : ' ▼') : ''));
    }), canCmd ? h('th', { text: t('col.actions') }) : null);

    var body = h('tbody', null, rows.map(function (s) {
      var p = f.power[s.stationId];
      var good = s.devices.filter(devOk);
      var devs = s.devices.filter(function (d) { return !devOk(d); }).map(function (d) { return h('span', { class: 'chip bad', title: d.state, text: d.name + ': ' + d.state }); });
      if (good.length) devs.unshift(h('span', { class: 'chip ok', title: good.map(function (d) { return d.name + ': ' + d.state; }).join(', '), text: t('devices.ok', { n: good.length }) }));
      var nAl = f.alarms[s.stationId] || 0;
      return h('tr', { testid: 'st-' + s.stationId, class: 'st-' + s.state },
        h('td', null, h('b', { text: s.stationId }), s.registered ? null : h('small', { class: 'warn', text: ' ' + t('unregistered') })),
        h('td', { text: s.unit || '–' }),
        h('td', null, h('span', { class: 'badge ' + s.state, testid: 'state-' + s.stationId, title: s.stateReason || '', text: t('state.' + s.state) }), s.locked ? h('span', { class: 'badge locked', testid: 'locked-' + s.stationId, text: t('state.locked') }) : null),
        h('td', { text: ago(lastContact(s)) }),
        h('td', { class: 'num', testid: 'backlog-' + s.stationId, text: fmtNum(s.backlog) }),
        h('td', { text: age(s.oldestBacklogAgeMs) }),
        h('td', { class: 'devices' }, devs),
        h('td', { text: p ? (p.capacityPct === null ? '–' : p.capacityPct + ' %') + (p.onAc ? ' · ' + t('battery.ac') : '') : '–', class: p && p.level !== 'ok' && p.level !== 'unknown' ? 'bad' : '' }),
        h('td', { class: 'num', text: bytes(s.diskFreeBytes) }),
        h('td', { text: s.version || '–' }),
        h('td', { class: 'num', text: fmtNum(s.enrollmentsToday) + (s.quota ? ' / ' + fmtNum(s.quota) : '') }),
        h('td', { class: 'num' + (nAl ? ' bad' : ''), text: nAl ? String(nAl) : '–' }),
        canCmd ? h('td', { class: 'actions' }, S.session.commands.map(function (c) {
          return h('button', { class: 'small', testid: 'cmd-' + c + '-' + s.stationId, disabled: !s.registered, onclick: function () { command(s.stationId, c); }, text: t('cmd.' + c) });
        })) : null);
    }));

    return h('section', { class: 'fleet' },
      h('div', { class: 'bar' },
        h('p', { testid: 'fleet-summary', text: t('fleet.summary', { total: f.stations.length, online: count.online, lost: count.lost, offline: count.offline }) }),
        h('label', { for: 'f-unit', text: t('fleet.filter.unit') }), unitSel,
        h('label', { for: 'f-state', text: t('fleet.filter.state') }), stateSel, text),
      S.session.role === 'operator' && !(S.session.commands && S.session.commands.length) ? h('p', { class: 'muted', text: t('cmd.disabled') }) : null,
      rows.length ? h('div', { class: 'scroll' }, h('table', { class: 'grid', testid: 'fleet-table' }, h('thead', null, head), body)) : h('p', { class: 'muted', text: t('fleet.empty') }));
  }

  function command(station, name) {
    if (name !== 'lock') return sendCommand(station, name, {});
    var input = h('input', { id: 'lock-reason', testid: 'lock-reason', maxlength: '200' });
    var dlg = h('dialog', { class: 'dialog', testid: 'lock-dialog' },
      h('form', { method: 'dialog', onsubmit: function (e) { e.preventDefault(); if (!input.value.trim()) { input.focus(); return; } dlg.close(); dlg.remove(); sendCommand(station, 'lock', { reason: input.value.trim() }); } },
        h('label', { for: 'lock-reason', text: t('cmd.lockReason') }), input,
        h('div', { class: 'row' },
          h('button', { type: 'submit', class: 'primary', testid: 'lock-send', text: t('cmd.send') }),
          h('button', { type: 'button', onclick: function () { dlg.close(); dlg.remove(); }, text: t('cmd.cancel') }))));
    document.body.appendChild(dlg);
    dlg.showModal();
    input.focus();
  }

  function sendCommand(station, name, extra) {
    var body = { station: station, name: name };
    Object.keys(extra).forEach(function (k) { body[k] = extra[k]; });
    api('POST', '/api/commands', body).then(function () { notify('ok', t('cmd.sent', { name: t('cmd.' + name), station: station })); }, fail);
  }

  /* ---------- alarms ---------- */
  function alarmKind(k) { var s = t('alarm.' + k); return s === 'alarm.' + k ? k : s + ' (' + k + ')'; }
  function alarmsView() {
    if (!S.alarms.length) return h('p', { class: 'muted', testid: 'alarms-none', text: t('alarms.none') });
    var op = S.session.role === 'operator';
    return h('section', null, h('div', { class: 'scroll' }, h('table', { class: 'grid', testid: 'alarms-table' },
      h('thead', null, h('tr', null, h('th', { text: t('col.at') }), h('th', { text: t('col.kind') }), h('th', { text: t('col.station') }), h('th', { text: t('col.count') }), h('th', { text: t('col.detail') }), op ? h('th', { text: '' }) : null)),
      h('tbody', null, S.alarms.map(function (a) {
        return h('tr', { testid: 'alarm-' + a.id },
          h('td', { text: fmtTime(a.at) }), h('td', { text: alarmKind(a.kind) }), h('td', { text: a.stationId || '–' }), h('td', { class: 'num', text: String(a.count) }),
          h('td', { class: 'detail', text: a.detail }),
          op ? h('td', null, h('button', { class: 'small', testid: 'ack-' + a.id, onclick: function () { api('POST', '/api/alarms/' + a.id + '/ack', {}).then(function () { notify('ok', t('alarms.acked')); }, fail); }, text: t('alarms.ack') })) : null);
      })))));
  }

  /* ---------- commands ---------- */
  function commandsView() {
    if (!S.commands.length) return h('p', { class: 'muted', text: t('cmd.none') });
    return h('section', null, h('div', { class: 'scroll' }, h('table', { class: 'grid', testid: 'commands-table' },
      h('thead', null, h('tr', null, h('th', { text: t('col.sentAt') }), h('th', { text: t('col.station') }), h('th', { text: t('col.command') }), h('th', { text: t('col.sentBy') }), h('th', { text: t('col.result') }))),
      h('tbody', null, S.commands.map(function (c) {
        var st = c.status || 'waiting';
        return h('tr', { testid: 'command-' + c.id },
          h('td', { text: fmtTime(c.issuedAt) }), h('td', { text: c.stationId }), h('td', { text: t('cmd.' + c.name) === 'cmd.' + c.name ? c.name : t('cmd.' + c.name) }),
          h('td', { text: c.sentBy || 'hq cmd' }),
          h('td', null, h('span', { class: 'badge ' + (st === 'ok' ? 'online' : st === 'waiting' ? 'unknown' : 'lost'), testid: 'result-' + c.id, text: t('cmd.status.' + st) === 'cmd.status.' + st ? st : t('cmd.status.' + st) }), c.message ? ' ' + c.message : ''));
      })))));
  }

  /* ---------- campaign ---------- */
  function loadCampaigns() {
    return api('GET', '/api/campaigns').then(function (list) {
      S.campaigns = list;
      if (!S.campaign && list.length) S.campaign = list[0].id;
      return loadSummary();
    }, fail);
  }
  function loadSummary() {
    if (!S.campaign) { renderMain(); return Promise.resolve(); }
    return api('GET', '/api/campaigns/' + encodeURIComponent(S.campaign) + '/summary?level=' + S.level).then(function (s) { S.summary = s; if (S.tab === 'campaign') renderMain(); }, fail);
  }

  function campaignView() {
    if (!S.campaigns.length) { if (!S.campaignsAsked) { S.campaignsAsked = true; loadCampaigns(); } return h('p', { class: 'muted', testid: 'campaign-none', text: t('campaign.none') }); }
    var sel = h('select', { id: 'c-id', testid: 'campaign-select', onchange: function (e) { S.campaign = e.target.value; S.summary = null; loadSummary(); } },
      S.campaigns.map(function (c) { var o = h('option', { value: c.id, text: c.name }); if (c.id === S.campaign) o.selected = true; return o; }));
    var lvl = h('select', { id: 'c-level', testid: 'campaign-level', onchange: function (e) { S.level = e.target.value; S.summary = null; loadSummary(); } },
      ['ward', 'district', 'city'].map(function (l) { var o = h('option', { value: l, text: t('level.' + l) }); if (l === S.level) o.selected = true; return o; }));
    var s = S.summary;
    var top = h('div', { class: 'bar' }, h('label', { for: 'c-id', text: t('campaign.choose') }), sel, h('label', { for: 'c-level', text: t('campaign.level') }), lvl,
      S.campaign ? h('a', { class: 'button', testid: 'campaign-csv', href: '/api/campaigns/' + encodeURIComponent(S.campaign) + '/report.csv?level=' + S.level, download: '', text: t('campaign.csv') }) : null,
      S.campaign ? h('a', { class: 'button', testid: 'campaign-print', href: '/print.html#' + encodeURIComponent(S.campaign) + '/' + S.level + '/' + S.lang, target: '_blank', rel: 'noopener', text: t('campaign.print') }) : null);
    if (!s) return h('section', null, top, h('p', { class: 'loading', text: '…' }));
    var sec = h('section', { class: 'campaign' }, top,
      h('p', { testid: 'campaign-period', text: t('campaign.period', { from: s.campaign.firstDay, to: s.campaign.lastDay }) }),
      h('p', { class: 'kpi', testid: 'campaign-total', text: t('campaign.total', { enrollments: fmtNum(s.totals.enrollments), activations: fmtNum(s.totals.activations), pct: fmtPct(s.totals.pct) }) }),
      h('p', { class: s.backlog.records ? 'warn' : 'muted', testid: 'campaign-backlog', text: s.backlog.records ? t('campaign.backlog', { stations: s.backlog.stations, records: fmtNum(s.backlog.records) }) : t('campaign.noBacklog') }),
      s.totals.unknown ? h('p', { class: 'warn', testid: 'campaign-unknown', text: t('campaign.unknown', { n: fmtNum(s.totals.unknown) }) }) : null,
      h('p', { class: 'muted', text: t('campaign.asOf', { at: fmtTime(s.asOf) }) }),
      h('div', { class: 'charts' },
        h('figure', null, h('figcaption', { text: t('campaign.progress') }), h('div', { class: 'chartbox' }, h('canvas', { id: 'chart-progress', testid: 'chart-progress' }))),
        h('figure', null, h('figcaption', { text: t('campaign.ranking') }), h('div', { class: 'chartbox tall' }, h('canvas', { id: 'chart-ranking', testid: 'chart-ranking' })))),
      rankingTable(s), heatTable(s));
    setTimeout(function () { if (window.HQCharts) window.HQCharts.draw(s, t, S.lang); }, 0);
    return sec;
  }

  function rankingTable(s) {
    var units = s.units.slice().sort(function (a, b) { return (b.pct || 0) - (a.pct || 0) || (a.code < b.code ? -1 : 1); });
    return h('div', { class: 'scroll' }, h('table', { class: 'grid', testid: 'ranking-table' },
      h('thead', null, h('tr', null, h('th', { text: '#' }), h('th', { text: t('col.unit') }), h('th', { text: t('col.enrollments') }), h('th', { text: t('col.activations') }), h('th', { text: t('col.quota') }), h('th', { text: t('col.pct') }), h('th', { text: t('col.pctActivations') }), h('th', { text: t('col.backlog') }))),
      h('tbody', null, units.map(function (u, i) {
        return h('tr', { testid: 'rank-' + u.code },
          h('td', { class: 'num', text: String(i + 1) }), h('td', { text: u.name + ' (' + u.code + ')' }),
          h('td', { class: 'num', testid: 'enr-' + u.code, text: fmtNum(u.enrollments) }), h('td', { class: 'num', testid: 'act-' + u.code, text: fmtNum(u.activations) }),
          h('td', { class: 'num', text: fmtNum(u.quota) }), h('td', { class: 'num', testid: 'pct-' + u.code, text: fmtPct(u.pct) }), h('td', { class: 'num', text: fmtPct(u.pctActivations) }),
          h('td', { class: 'num' + (u.backlog ? ' warn' : ''), text: u.backlog ? fmtNum(u.backlog) : '–' }));
      }))));
  }

  function heatTable(s) {
    var max = 1;
    s.units.forEach(function (u) { u.perDay.forEach(function (v) { if (v > max) max = v; }); });
    return h('figure', null, h('figcaption', { text: t('campaign.heat') }), h('div', { class: 'scroll' }, h('table', { class: 'heat', testid: 'heat-table' },
      h('thead', null, h('tr', null, h('th', { text: t('col.unit') }), s.days.map(function (d) { return h('th', { title: d, text: d.slice(8, 10) + '/' + d.slice(5, 7) }); }))),
      h('tbody', null, s.units.map(function (u) {
        return h('tr', null, h('th', { text: u.name }), u.perDay.map(function (v, i) {
          var lvl = v === 0 ? 0 : Math.min(5, 1 + Math.floor((v / max) * 5));
          return h('td', { class: 'h' + lvl, title: u.name + ' ' + s.days[i] + ': ' + v, text: v ? String(v) : '' });
        }));
      })))));
  }

  /* ---------- start ---------- */
  loadCatalogue().then(function () {
    return api('GET', '/api/session').then(function (s) { S.session = s; render(); startEvents(); }, function () { S.session = null; S.notice = null; render(); });
  });
  setInterval(function () { if (S.session && S.tab === 'fleet') renderMain(); }, 15000); // "x s ago" keeps counting
})();
