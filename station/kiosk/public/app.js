/* Officer kiosk page. Plain browser JavaScript, no external assets, no framework.
 * State comes from the station (GET /api/state, POST responses, and the
 * server-sent event stream /api/events); the page only renders it and sends
 * officer actions. The session token lives in sessionStorage so a page reload
 * resumes the session; nothing personal is stored in the browser. */
'use strict';
(function () {
  var TOKEN_KEY = 'kioskToken';
  var LANG_KEY = 'kioskLang';
  var dict = {};
  var lang = 'vi';
  var token = sessionStorage.getItem(TOKEN_KEY);
  var state = null;          // last snapshot from the station
  var hello = null;          // public info for the login screen
  var events = null;         // EventSource
  var progress = null;       // last device progress event
  var notice = null;         // { kind: 'err'|'warn'|'ok', text, hint } shown on top of the main area
  var ui = { exc: null, excCode: '', excReason: '', confirmAbort: false };
  var lastKey = '';
  var previews = {};         // key -> { id, url }

  var $ = function (id) { return document.getElementById(id); };

  function t(key, params) {
    var s = dict[key];
    if (s === undefined) return null;
    if (params) Object.keys(params).forEach(function (k) { s = s.split('{' + k + '}').join(String(params[k])); });
    return s;
  }
  function tt(key, params, fallback) { var s = t(key, params); return s === null ? (fallback !== undefined ? fallback : key) : s; }

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') el.textContent = v;
      else if (k === 'onclick') el.addEventListener('click', v);
      else if (k === 'oninput') el.addEventListener('input', v);
      else if (k === 'onchange') el.addEventListener('change', v);
      else if (k === 'onsubmit') el.addEventListener('submit', v);
      else if (k === 'value') el.value = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) c.forEach(function (x) { if (x) el.appendChild(typeof x === 'string' ? document.createTextNode(x) : x); });
      else el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return el;
  }
  function btn(label, onclick, cls, testid, disabled) {
    return h('button', { type: 'button', class: 'btn ' + (cls || ''), onclick: onclick, 'data-testid': testid, disabled: !!disabled, text: label });
  }
  function fmtTime(ms) { if (!ms) return tt('status.never'); var d = new Date(ms); return d.toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB'); }

  // ───────────── network ─────────────
  function api(method, path, body) {
    var headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; });
      }, function () { return { status: 0, body: { error: { code: 'NETWORK', message: tt('error.network') } } }; });
  }

  function act(path, body) {
    notice = null;
    return api('POST', path, body || {}).then(function (r) {
      if (r.body && r.body.state) setState(r.body.state);
      if (r.status === 401 && r.body.error && r.body.error.code === 'WORKFLOW_AUTH') { loggedOut('expired'); return r; }
      if (r.status >= 400 && r.status !== 422) showError(r.body.error);
      render();
      return r;
    });
  }

  function showError(err) {
    if (!err) return;
    var reason = err.details && err.details.reason;
    var text = (reason && t('refused.' + reason)) || t('code.' + err.code) || err.message || err.code;
    var detail = text !== err.message ? err.message : null;
    notice = { kind: 'err', text: text, detail: detail, hint: err.hint, code: err.code, testid: 'error-' + (reason || err.code) };
  }

  function connectEvents() {
    if (events) events.close();
    if (!token) return;
    events = new EventSource('/api/events?token=' + encodeURIComponent(token));
    events.addEventListener('state', function (e) {
      if (notice && notice.testid === 'network') notice = null;
      setState(JSON.parse(e.data)); render();
    });
    events.addEventListener('progress', function (e) { progress = JSON.parse(e.data); renderBusy(); });
    events.addEventListener('logout', function (e) { var d = JSON.parse(e.data); loggedOut(d.reason); });
    events.onerror = function () {
      // The stream dropped: the browser retries by itself; if the session is gone, say so.
      api('GET', '/api/state').then(function (r) {
        if (r.status === 401 && token) loggedOut('expired');
        else if (r.status === 0) { notice = { kind: 'err', text: tt('error.network'), testid: 'network' }; render(); }
      });
    };
  }

  function setState(s) {
    state = s;
    if (!s.session || !s.session.busy) progress = null;
  }

  function loggedOut(reason) {
    if (events) { events.close(); events = null; }
    token = null; state = null;
    sessionStorage.removeItem(TOKEN_KEY);
    Object.keys(previews).forEach(function (k) { URL.revokeObjectURL(previews[k].url); });
    previews = {};
    notice = reason && t('loggedOut.' + reason) ? { kind: 'warn', text: t('loggedOut.' + reason), testid: 'logged-out-' + reason } : null;
    loadHello().then(render);
  }

  function loadHello() {
    return api('GET', '/api/hello').then(function (r) { if (r.status === 200) hello = r.body; });
  }

  function loadLang(l) {
    return fetch('/i18n/' + l + '.json', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (d) {
      dict = d; lang = l; document.documentElement.lang = l; localStorage.setItem(LANG_KEY, l);
    });
  }

  // ───────────── previews (fetched with the token, shown as blob URLs) ─────────────
  function preview(img, path, id) {
    var cached = previews[path];
    if (cached && cached.id === id) { img.src = cached.url; return; }
    api2blob(path).then(function (b) {
      if (!b) return;
      if (previews[path]) URL.revokeObjectURL(previews[path].url);
      var url = URL.createObjectURL(b);
      previews[path] = { id: id, url: url };
      img.src = url;
    });
  }
  function api2blob(path) {
    return fetch(path, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' }).then(function (r) { return r.ok ? r.blob() : null; }, function () { return null; });
  }

  // ───────────── rendering ─────────────
  function render() {
    renderBar();
    renderSteps();
    renderBusy();
    var key = JSON.stringify([lang, token ? 1 : 0, notice, ui, hello && hello.lostSession, state && stripVolatile(state)]);
    if (key === lastKey) return;
    lastKey = key;
    var main = $('main');
    var focused = document.activeElement && document.activeElement.id;
    main.textContent = '';
    if (notice) main.appendChild(banner(notice));
    if (!token || !state) main.appendChild(viewLogin());
    else main.appendChild(viewMain());
    if (focused && $(focused)) $(focused).focus();
  }

  function stripVolatile(s) {
    var c = { officer: s.officer, guard: s.guard, lost: s.lostSession, session: s.session };
    if (c.session && c.session.busy) c.session = Object.assign({}, c.session, { busy: { op: c.session.busy.op, position: c.session.busy.position } });
    return c;
  }

  function banner(n) {
    return h('div', { class: 'banner ' + n.kind, 'data-testid': n.testid || 'notice' }, h('div', { text: n.text }),
      n.detail ? h('div', { class: 'detail', text: n.detail }) : null, n.hint ? h('div', { class: 'hint', text: '→ ' + n.hint }) : null);
  }

  function renderBar() {
    $('bar-title').textContent = tt('app.title');
    $('bar-lang').textContent = tt('lang.switch');
    var logout = $('bar-logout');
    logout.textContent = tt('logout');
    logout.classList.toggle('hidden', !token);
    var dev = $('bar-devices');
    dev.textContent = '';
    var up = $('bar-uplink');
    up.textContent = '';
    $('bar-officer').textContent = state && state.officer ? state.officer.name + ' (' + state.officer.id + ')' : '';
    if (!state) return;
    (state.devices || []).forEach(function (d) {
      dev.appendChild(h('span', { class: 'dev', 'data-device': d.device, 'data-state': d.state, title: d.detail || '' },
        h('span', { class: 'dot ' + d.state }), tt('device.' + d.device, null, d.device) + ': ' + tt('devstate.' + d.state, null, d.state)));
    });
    if (state.today) {
      var q = state.today.quota ? ' / ' + state.today.quota : '';
      up.appendChild(h('span', { 'data-testid': 'today' }, tt('status.today') + ': ' + (state.today.enrollments + state.today.activations) + q));
      up.appendChild(document.createTextNode(' · '));
    }
    if (state.uplink) {
      up.appendChild(h('span', { 'data-testid': 'waiting' }, tt('status.waiting') + ': ' + state.uplink.waiting));
      up.appendChild(document.createTextNode(' · '));
      up.appendChild(h('span', { 'data-testid': 'last-sync' }, tt('status.lastSync') + ': ' + fmtTime(state.uplink.lastSyncAt)));
    }
  }

  function renderSteps() {
    var nav = $('steps');
    nav.textContent = '';
    var s = state && state.session;
    nav.classList.toggle('hidden', !s);
    if (!s) return;
    s.steps.forEach(function (st) {
      var cur = st === s.step || (s.step === 'sealing' && st === 'review');
      var done = s.completed.indexOf(st) >= 0 || s.step === 'sealed';
      nav.appendChild(h('span', { class: 's' + (cur ? ' cur' : done ? ' done' : ''), 'data-step': st, text: tt('step.' + st) }));
    });
  }

  function renderBusy() {
    var s = state && state.session;
    var busy = s && s.busy;
    $('busy').classList.toggle('hidden', !busy);
    if (!busy) return;
    var phase = (progress && progress.phase) || (busy.progress && busy.progress.phase) || (busy.op === 'seal' ? 'sealing' : 'working');
    var text = phase === 'sealing' ? tt('sealing.title') : tt('phase.' + phase, null, tt('phase.working'));
    if (busy.op === 'finger' && busy.position) text = tt('finger.' + busy.position) + ' — ' + text;
    $('busy-text').textContent = text;
  }

  function viewLogin() {
    var wrap = h('div', null);
    var lost = hello && hello.lostSession;
    if (lost) wrap.appendChild(lostBanner(lost, false));
    var err = h('div', { class: 'field-error', 'data-testid': 'login-error' });
    var id = h('input', { id: 'login-id', name: 'officerId', autocomplete: 'off', autocapitalize: 'off', 'data-testid': 'login-id' });
    var pin = h('input', { id: 'login-pin', name: 'pin', type: 'password', inputmode: 'numeric', autocomplete: 'off', 'data-testid': 'login-pin' });
    var form = h('form', {
      class: 'card', onsubmit: function (e) {
        e.preventDefault();
        err.textContent = '';
        api('POST', '/api/login', { officerId: id.value.trim(), pin: pin.value }).then(function (r) {
          pin.value = '';
          if (r.status === 200) {
            token = r.body.token; sessionStorage.setItem(TOKEN_KEY, token);
            notice = null; setState(r.body.state); connectEvents(); render();
          } else {
            var e2 = r.body.error || {};
            var until = e2.details && e2.details.until ? fmtTime(e2.details.until) : '';
            err.textContent = t('login.error.' + e2.code, { until: until }) || e2.message || e2.code;
          }
        });
      },
    },
    h('h1', { text: tt('login.title') }),
    h('label', { class: 'f', for: 'login-id', text: tt('login.officerId') }), id,
    h('label', { class: 'f', for: 'login-pin', text: tt('login.pin') }), pin,
    keypad(pin),
    err,
    h('p', { text: tt('login.cardHint') }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary big', 'data-testid': 'login-submit', text: tt('login.submit') })));
    wrap.appendChild(form);
    return wrap;
  }

  /** On-screen digits for the PIN (touchscreens have no keyboard). */
  function keypad(input) {
    var pad = h('div', { class: 'keypad', 'data-testid': 'keypad' });
    ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', '⌫'].forEach(function (k) {
      pad.appendChild(h('button', {
        type: 'button', class: 'key', 'data-key': k, text: k,
        onclick: function () {
          if (k === 'C') input.value = '';
          else if (k === '⌫') input.value = input.value.slice(0, -1);
          else if (input.value.length < 12) input.value += k;
        },
      }));
    });
    return pad;
  }

  function lostBanner(lost, dismissable) {
    return h('div', { class: 'banner warn', 'data-testid': 'lost-session' },
      h('h2', { text: tt('lost.title') }),
      h('div', { text: tt('lost.body', { started: fmtTime(lost.startedAt), step: tt('step.' + lost.step, null, lost.step) }) }),
      dismissable ? h('div', { class: 'actions' }, btn(tt('lost.dismiss'), function () { act('/api/lost/dismiss').then(loadHello).then(render); }, '', 'lost-dismiss')) : null);
  }

  function viewMain() {
    var s = state.session;
    var wrap = h('div', null);
    if (state.lostSession) wrap.appendChild(lostBanner(state.lostSession, true));
    if (!s) { wrap.appendChild(viewHome()); return wrap; }
    if (s.lastError) wrap.appendChild(errorPanel(s));
    var body;
    switch (s.step) {
      case 'kind': body = viewKind(); break;
      case 'details': body = viewDetails(s); break;
      case 'fingerprints': body = viewFingers(s); break;
      case 'portrait': body = viewPortrait(s); break;
      case 'chip': body = viewChip(s); break;
      case 'review': case 'sealing': body = viewReview(s); break;
      case 'sealed': body = viewSealed(s); break;
      default: body = h('div', { text: s.step });
    }
    wrap.appendChild(body);
    if (s.step !== 'sealed' && s.step !== 'sealing') wrap.appendChild(abortBar());
    return wrap;
  }

  function abortBar() {
    if (ui.confirmAbort) {
      return h('div', { class: 'card' }, h('div', { text: tt('abort.confirm') }), h('div', { class: 'actions' },
        btn(tt('yes'), function () { ui.confirmAbort = false; act('/api/session/abort'); }, 'danger', 'abort-yes'),
        btn(tt('no'), function () { ui.confirmAbort = false; render(); }, '', 'abort-no')));
    }
    return h('div', { class: 'actions' }, btn(tt('abort'), function () { ui.confirmAbort = true; render(); }, 'danger', 'abort'));
  }

  function errorPanel(s) {
    var e = s.lastError;
    var retry = null, exc = null;
    if (e.op === 'finger') { retry = function () { act('/api/session/finger/capture', { position: e.position }); }; exc = function () { openExc(e.position, 'device_failure'); }; }
    if (e.op === 'portrait') { retry = function () { act('/api/session/portrait/capture'); }; exc = function () { openExc('portrait', 'device_failure'); }; }
    if (e.op === 'chip') { retry = function () { readChip(); }; exc = function () { openExc('chip', 'device_failure'); }; }
    if (e.op === 'seal') { retry = function () { act('/api/session/confirm'); }; }
    return h('div', { class: 'banner err', 'data-testid': 'device-error', 'data-code': e.code },
      h('h2', { text: tt('error.title') }), h('div', { class: 'error-text', text: t('code.' + e.code, e.matchedPosition ? { finger: tt('finger.' + e.matchedPosition) } : null) || e.message }),
      t('code.' + e.code) ? h('div', { class: 'detail', text: e.message }) : null, e.hint ? h('div', { class: 'hint', text: '→ ' + e.hint }) : null,
      h('div', { class: 'actions' },
        retry ? btn(tt('retry'), retry, 'primary', 'error-retry') : null,
        exc ? btn(tt('exc.title'), exc, '', 'error-exception') : null,
        btn(tt('error.dismiss'), function () { act('/api/session/dismiss-error'); }, '', 'error-dismiss')));
  }

  function viewHome() {
    var g = state.guard;
    var card = h('div', { class: 'card' }, h('h1', { text: tt('home.title') }));
    if (g && !g.ok) {
      card.appendChild(h('div', { class: 'banner err', 'data-testid': 'guard-refused', 'data-code': g.code },
        h('h2', { text: tt('home.refused') }), h('div', { text: t('refused.' + g.code) || g.message }), g.hint ? h('div', { class: 'hint', text: '→ ' + g.hint }) : null));
    }
    var start = function (kind) {
      return function () { act('/api/session/start').then(function (r) { if (r.status === 200) act('/api/session/kind', { kind: kind }); }); };
    };
    card.appendChild(h('div', { class: 'actions' },
      btn(tt('home.enroll'), start('enrollment'), 'primary big', 'start-enrollment'),
      btn(tt('home.activate'), start('eid-activation'), 'big', 'start-activation')));
    return card;
  }

  function viewKind() {
    return h('div', { class: 'card' }, h('h1', { text: tt('kind.title') }), h('div', { class: 'actions' },
      btn(tt('home.enroll'), function () { act('/api/session/kind', { kind: 'enrollment' }); }, 'primary big', 'kind-enrollment'),
      btn(tt('home.activate'), function () { act('/api/session/kind', { kind: 'eid-activation' }); }, 'big', 'kind-activation')));
  }

  var FIELDS = ['fullName', 'dateOfBirth', 'sex', 'nationalId', 'nationality', 'placeOfOrigin', 'address', 'unitCode', 'phone'];
  var ACT_FIELDS = ['documentNumber', 'documentExpiry'];

  function viewDetails(s) {
    var d = s.draftDetails || s.details || {};
    var errs = {};
    (s.detailErrors || []).forEach(function (e) { errs[e.field] = e; });
    var fields = FIELDS.concat(s.kind === 'eid-activation' ? ACT_FIELDS : []);
    var inputs = {};
    var grid = h('div', { class: 'grid2' });
    fields.forEach(function (f) {
      var id = 'f-' + f;
      var input;
      var val = d[f] !== undefined ? d[f] : (f === 'nationality' ? 'VNM' : f === 'unitCode' ? state.defaultUnit : '');
      if (f === 'sex') {
        input = h('select', { id: id, name: f, 'data-testid': id },
          h('option', { value: '', text: '—' }), ['M', 'F', 'X'].map(function (x) { return h('option', { value: x, text: tt('sex.' + x) }); }));
        input.value = val;
      } else {
        var type = (f === 'dateOfBirth' || f === 'documentExpiry') ? 'text' : 'text';
        input = h('input', { id: id, name: f, type: type, value: val, autocomplete: 'off', 'data-testid': id, inputmode: (f === 'nationalId' || f === 'phone') ? 'numeric' : undefined, placeholder: (f === 'dateOfBirth' || f === 'documentExpiry') ? 'YYYY-MM-DD' : undefined });
      }
      var e = errs[f];
      if (e) input.classList.add('bad');
      inputs[f] = input;
      grid.appendChild(h('div', null, h('label', { class: 'f', for: id, text: tt('field.' + f) }), input,
        h('div', { class: 'field-error', 'data-testid': 'err-' + f, text: e ? (t('errors.' + e.code, e.params) || e.message) : '' })));
    });
    var form = h('form', {
      class: 'card', onsubmit: function (ev) {
        ev.preventDefault();
        var out = {};
        Object.keys(inputs).forEach(function (k) { out[k] = inputs[k].value; });
        act('/api/session/details', { details: out });
      },
    }, h('h1', { text: tt('details.title') }),
    s.detailErrors && s.detailErrors.length ? h('div', { class: 'banner err', 'data-testid': 'details-invalid', text: tt('details.fixErrors') }) : null,
    grid, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary big', 'data-testid': 'details-submit', text: tt('next') })));
    return form;
  }

  function openExc(target, code) { ui.exc = target; ui.excCode = code || ''; ui.excReason = ''; act('/api/session/dismiss-error').then(render); }

  function excPanel(target, codes, path, extra) {
    var sel = h('select', { id: 'exc-code', 'data-testid': 'exc-code', onchange: function () { ui.excCode = sel.value; } },
      h('option', { value: '', text: '—' }), codes.map(function (c) { return h('option', { value: c, text: tt('exc.' + c) }); }));
    sel.value = ui.excCode;
    var reason = h('textarea', { id: 'exc-reason', rows: 2, 'data-testid': 'exc-reason', oninput: function () { ui.excReason = reason.value; } });
    reason.value = ui.excReason;
    return h('div', { class: 'card', 'data-testid': 'exc-panel' }, h('h2', { text: tt('exc.title') }),
      sel, h('label', { class: 'f', for: 'exc-reason', text: tt('exc.reason') }), reason,
      h('div', { class: 'actions' },
        btn(tt('save'), function () {
          var body = Object.assign({ code: sel.value, reason: reason.value }, extra || {});
          act(path, body).then(function (r) { if (r.status === 200) { ui.exc = null; render(); } });
        }, 'primary', 'exc-save'),
        btn(tt('cancel'), function () { ui.exc = null; render(); }, '', 'exc-cancel')));
  }

  function viewFingers(s) {
    var cur = s.currentFinger;
    var grid = h('div', { class: 'fingers', 'data-testid': 'finger-grid' });
    var sel = ui.selFinger && s.fingers.some(function (f) { return f.position === ui.selFinger; }) ? ui.selFinger : cur;
    s.fingers.forEach(function (f) {
      grid.appendChild(h('button', {
        type: 'button', class: 'finger ' + f.status + (f.position === sel ? ' cur' : ''), 'data-testid': 'finger-' + f.position, 'data-status': f.status,
        onclick: function () { ui.selFinger = f.position; render(); },
      }, h('div', { text: tt('finger.' + f.position) }), h('div', { text: tt('fp.status.' + f.status) + (f.quality !== undefined ? ' · ' + f.quality : '') })));
    });
    var card = h('div', { class: 'card' }, h('h1', { text: tt('fp.title') }), grid);
    if (sel) {
      var f = s.fingers.filter(function (x) { return x.position === sel; })[0];
      var img = h('img', { class: 'preview', alt: '', 'data-testid': 'finger-preview' });
      if (f.status === 'captured' || f.status === 'candidate') preview(img, '/api/preview/finger/' + sel, f.status + f.quality + ':' + f.attempts);
      var info = h('div', null, h('h2', { text: tt('fp.current', { finger: tt('finger.' + sel) }) }));
      if (f.quality !== undefined) {
        info.appendChild(h('div', { class: 'verdict ' + (f.passed ? 'good' : 'bad'), 'data-testid': 'finger-verdict', text: (f.passed ? tt('fp.passed') : tt('fp.low')) }));
        info.appendChild(h('div', { text: tt('fp.quality', { q: f.quality }) + ' · ' + tt('fp.attempts', { n: f.attempts }) }));
      }
      if (f.exception) info.appendChild(h('div', { class: 'verdict', text: tt('exc.' + f.exception.code) + ': ' + f.exception.reason }));
      var actions = h('div', { class: 'actions' });
      if (f.status === 'pending' || f.status === 'candidate') actions.appendChild(btn(f.status === 'pending' ? tt('fp.capture') : tt('fp.recapture'), function () { act('/api/session/finger/capture', { position: sel }); }, 'primary big', 'finger-capture'));
      if (f.status === 'candidate') actions.appendChild(btn(tt('fp.keep'), function () { act('/api/session/finger/keep', { position: sel }); }, '', 'finger-keep'));
      if (f.status === 'captured' || f.status === 'exception') actions.appendChild(btn(tt('fp.redo'), function () { act('/api/session/finger/redo', { position: sel }).then(function () { ui.selFinger = sel; render(); }); }, '', 'finger-redo'));
      if (f.status !== 'exception') actions.appendChild(btn(tt('fp.exception'), function () { ui.selFinger = sel; openExc(sel, ''); }, '', 'finger-exception'));
      info.appendChild(actions);
      card.appendChild(h('div', { class: 'row' }, img, info));
    } else {
      card.appendChild(h('div', { class: 'banner ok', text: tt('fp.allDone') }));
    }
    var wrap = h('div', null, card);
    if (ui.exc !== null && typeof ui.exc === 'number') wrap.appendChild(excPanel(ui.exc, ['missing', 'amputated', 'bandaged', 'unable', 'device_failure'], '/api/session/finger/exception', { position: ui.exc }));
    var done = s.fingers.every(function (x) { return x.status === 'captured' || x.status === 'exception'; });
    wrap.appendChild(h('div', { class: 'actions' }, btn(tt('next'), function () { ui.selFinger = null; act('/api/session/next'); }, 'primary big', 'next', !done)));
    return wrap;
  }

  function metricsTable(m) {
    var tb = h('table', { class: 'kv', 'data-testid': 'metrics' });
    Object.keys(m || {}).forEach(function (k) {
      var v = m[k];
      tb.appendChild(h('tr', null, h('td', { text: tt('metric.' + k, null, k) }), h('td', { text: typeof v === 'number' ? String(Math.round(v * 100) / 100) : String(v) })));
    });
    return tb;
  }

  function viewPortrait(s) {
    var p = s.portrait;
    var img = h('img', { class: 'portrait', alt: '', 'data-testid': 'portrait-preview' });
    if (p.status === 'captured' || p.status === 'rejected') preview(img, '/api/preview/portrait', JSON.stringify(p.metrics));
    var info = h('div', null);
    if (p.status === 'captured') info.appendChild(h('div', { class: 'verdict good', 'data-testid': 'portrait-verdict', 'data-verdict': 'accept', text: tt('portrait.accepted') }));
    if (p.status === 'rejected') {
      info.appendChild(h('div', { class: 'verdict bad', 'data-testid': 'portrait-verdict', 'data-verdict': 'reject', text: tt('portrait.rejected') }));
      info.appendChild(h('ul', { 'data-testid': 'portrait-reasons' }, (p.reasons || []).map(function (r) { return h('li', { 'data-code': r.code, text: t('reason.' + r.code) || r.message }); })));
    }
    if (p.status === 'exception') info.appendChild(h('div', { class: 'verdict', text: tt('exc.' + p.exception.code) + ': ' + p.exception.reason }));
    if (p.metrics) info.appendChild(metricsTable(p.metrics));
    info.appendChild(h('div', { class: 'actions' },
      btn(p.status === 'pending' ? tt('portrait.capture') : tt('portrait.retake'), function () { act('/api/session/portrait/capture'); }, p.status === 'captured' ? '' : 'primary big', 'portrait-capture'),
      p.status !== 'exception' ? btn(tt('portrait.exception'), function () { openExc('portrait', ''); }, '', 'portrait-exception') : null));
    var live = null;
    if (p.status === 'pending' || p.status === 'rejected') {
      live = h('div', null, h('div', { class: 'live-label', text: tt('portrait.live') }), h('img', { class: 'live', alt: '', 'data-testid': 'portrait-live' }));
      startLive();
    }
    var wrap = h('div', null, h('div', { class: 'card' }, h('h1', { text: tt('portrait.title') }), h('div', { class: 'row' }, p.status === 'pending' ? null : img, live, info)));
    if (ui.exc === 'portrait') wrap.appendChild(excPanel('portrait', ['unable', 'device_failure'], '/api/session/portrait/exception'));
    wrap.appendChild(h('div', { class: 'actions' }, btn(tt('next'), function () { act('/api/session/next'); }, 'primary big', 'next', !(p.status === 'captured' || p.status === 'exception'))));
    return wrap;
  }

  // Live camera view on the portrait step: one frame at a time, about once a second.
  var liveRunning = false;
  var liveUrl = null;
  function startLive() {
    if (liveRunning) return;
    liveRunning = true;
    var tick = function () {
      var el = document.querySelector('[data-testid="portrait-live"]');
      var s = state && state.session;
      if (!el || !token || !s || s.step !== 'portrait' || s.busy) { liveRunning = false; return; }
      api2blob('/api/preview/camera-live').then(function (b) {
        var now = document.querySelector('[data-testid="portrait-live"]');
        if (b && now) {
          if (liveUrl) URL.revokeObjectURL(liveUrl);
          liveUrl = URL.createObjectURL(b);
          now.src = liveUrl;
        }
        setTimeout(tick, 1000);
      });
    };
    setTimeout(tick, 0);
  }

  function yymmdd(iso) { return iso && iso.length === 10 ? iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) : ''; }

  function readChip() {
    var g = function (id) { var el = $(id); return el ? el.value.trim() : undefined; };
    act('/api/session/chip/read', { documentNumber: g('chip-doc'), birthDate: g('chip-birth'), expiryDate: g('chip-expiry') });
  }

  function viewChip(s) {
    var c = s.chip || { status: 'pending' };
    var d = s.details || {};
    var card = h('div', { class: 'card' }, h('h1', { text: tt('chip.title') }),
      h('div', { class: 'row' },
        h('div', null, h('label', { class: 'f', for: 'chip-doc', text: tt('chip.documentNumber') }), h('input', { id: 'chip-doc', value: d.documentNumber || '', 'data-testid': 'chip-doc' })),
        h('div', null, h('label', { class: 'f', for: 'chip-birth', text: tt('chip.birthDate') }), h('input', { id: 'chip-birth', value: yymmdd(d.dateOfBirth), inputmode: 'numeric', 'data-testid': 'chip-birth' })),
        h('div', null, h('label', { class: 'f', for: 'chip-expiry', text: tt('chip.expiryDate') }), h('input', { id: 'chip-expiry', value: yymmdd(d.documentExpiry), inputmode: 'numeric', 'data-testid': 'chip-expiry' }))));
    if (c.passiveAuth) {
      var ok = c.passiveAuth.status === 'valid';
      card.appendChild(h('div', { class: 'verdict ' + (ok ? 'good' : 'bad'), 'data-testid': 'chip-verdict', 'data-status': c.passiveAuth.status },
        tt('chip.pa.' + c.passiveAuth.status) + (c.passiveAuth.reason ? ' — ' + c.passiveAuth.reason : '')));
      var face = h('img', { class: 'portrait', alt: '', 'data-testid': 'chip-face' });
      if (c.hasFace) preview(face, '/api/preview/chip-face', JSON.stringify(c.mrzFields));
      var tb = h('table', { class: 'kv' });
      Object.keys(c.mrzFields || {}).forEach(function (k) { tb.appendChild(h('tr', null, h('td', { text: k }), h('td', { text: String(c.mrzFields[k] === null ? '' : c.mrzFields[k]) }))); });
      card.appendChild(h('div', { class: 'row' }, c.hasFace ? face : null, tb));
    }
    if (c.exception) card.appendChild(h('div', { class: 'verdict', text: tt('exc.' + c.exception.code) + ': ' + c.exception.reason }));
    card.appendChild(h('div', { class: 'actions' },
      btn(c.status === 'pending' ? tt('chip.read') : tt('chip.reread'), readChip, c.status === 'read' ? '' : 'primary big', 'chip-read'),
      c.status !== 'exception' ? btn(tt('chip.exception'), function () { openExc('chip', ''); }, '', 'chip-exception') : null));
    var wrap = h('div', null, card);
    if (ui.exc === 'chip') wrap.appendChild(excPanel('chip', ['unable', 'device_failure'], '/api/session/chip/exception'));
    wrap.appendChild(h('div', { class: 'actions' }, btn(tt('next'), function () { act('/api/session/next'); }, 'primary big', 'next', !(c.status === 'read' || c.status === 'exception'))));
    return wrap;
  }

  function viewReview(s) {
    var d = s.details || {};
    var edit = function (step) { return btn(tt('review.edit'), function () { act('/api/session/goto', { step: step }); }, '', 'edit-' + step, s.step !== 'review'); };
    var tb = h('table', { class: 'kv', 'data-testid': 'review-details' }, h('tr', null, h('td', { text: tt('review.kind') }), h('td', { text: tt('kind.' + s.kind) })));
    FIELDS.concat(s.kind === 'eid-activation' ? ACT_FIELDS : []).forEach(function (f) {
      var v = f === 'sex' && d[f] ? tt('sex.' + d[f]) : d[f];
      tb.appendChild(h('tr', null, h('td', { text: tt('field.' + f) }), h('td', { text: v || '—' })));
    });
    var fingers = h('div', { class: 'fingers' }, s.fingers.map(function (f) {
      return h('div', { class: 'finger ' + f.status }, h('div', { text: tt('finger.' + f.position) }),
        h('div', { text: f.status === 'exception' ? tt('exc.' + f.exception.code) : tt('fp.quality', { q: f.quality }) }));
    }));
    var pimg = h('img', { class: 'portrait', alt: '' });
    if (s.portrait.status === 'captured') preview(pimg, '/api/preview/portrait', JSON.stringify(s.portrait.metrics));
    var card = h('div', { class: 'card' }, h('h1', { text: tt('review.title') }),
      h('h2', null, tt('details.title'), ' ', edit('details')), tb,
      h('h2', null, tt('fp.title'), ' ', edit('fingerprints')), fingers,
      h('h2', null, tt('portrait.title'), ' ', edit('portrait')),
      s.portrait.status === 'captured' ? pimg : h('div', { text: s.portrait.exception ? tt('exc.' + s.portrait.exception.code) + ': ' + s.portrait.exception.reason : '' }));
    if (s.chip) {
      card.appendChild(h('h2', null, tt('chip.title'), ' ', edit('chip')));
      card.appendChild(h('div', { 'data-testid': 'review-chip', text: s.chip.passiveAuth ? tt('chip.pa.' + s.chip.passiveAuth.status) : s.chip.exception ? tt('exc.' + s.chip.exception.code) + ': ' + s.chip.exception.reason : '' }));
    }
    card.appendChild(h('div', { class: 'actions' }, btn(tt('review.confirm'), function () { act('/api/session/confirm'); }, 'primary big', 'confirm', s.step !== 'review')));
    return card;
  }

  function viewSealed(s) {
    return h('div', { class: 'card' }, h('h1', { 'data-testid': 'sealed', text: tt('sealed.title') }), h('p', { text: tt('sealed.body') }),
      h('div', null, tt('sealed.recordId') + ': ', h('span', { class: 'mono', 'data-testid': 'record-id', text: s.recordId || '' })),
      h('div', { class: 'actions' }, btn(tt('sealed.next'), function () { act('/api/session/finish'); }, 'primary big', 'next-person')));
  }

  // ───────────── start ─────────────
  $('bar-lang').addEventListener('click', function () { loadLang(lang === 'vi' ? 'en' : 'vi').then(function () { lastKey = ''; render(); }); });
  $('bar-logout').addEventListener('click', function () {
    var tk = token;
    api('POST', '/api/logout', {}).then(function () { if (tk === token) loggedOut(null); });
  });

  loadHello().then(function () {
    var l = localStorage.getItem(LANG_KEY) || (hello && hello.language) || 'vi';
    return loadLang(l === 'en' ? 'en' : 'vi');
  }).then(function () {
    if (!token) { render(); return; }
    return api('GET', '/api/state').then(function (r) {
      if (r.status === 200) { setState(r.body); connectEvents(); render(); } else { loggedOut('expired'); }
    });
  });
})();
