/* Officer kiosk page — the core. Plain browser JavaScript, no external assets,
 * no framework, no build step.
 *
 * State comes from the station (GET /api/state, POST responses and the
 * server-sent event stream /api/events); the page renders it and sends officer
 * actions. The session token lives in sessionStorage so a reload resumes the
 * session; nothing personal is stored in the browser.
 *
 * The screen is: a one-line header (device states, connection, counters,
 * officer, language, logout), the step's body (scrolls; every step opens at its
 * top), and a footer with the step's actions (never scrolls: the primary action
 * is always on screen). Errors appear at the top of the body, are scrolled into
 * view and announced (ARIA live). Every word comes from the catalogue
 * (/i18n/<lang>.json): the station's English messages are shown only as
 * "technical details" on demand.
 *
 * Each step lives in steps/<name>.js and registers itself:
 *   Kiosk.step(name, function (s, ctx) { return { title, body, actions, ownsError? } })
 *   Kiosk.panel(step, { id, slot, order, render(s, ctx) })   // extra UI in a step
 *   Kiosk.dialog(id, function (params, ctx) { return { title, body, actions } })
 * See docs/local-api.md ("The page") for the contract.
 */
'use strict';
(function () {
  var K = {};
  window.Kiosk = K;

  var TOKEN_KEY = 'kioskToken';
  var LANG_KEY = 'kioskLang';
  var dict = {};
  var lang = 'vi';
  var token = sessionStorage.getItem(TOKEN_KEY);
  var state = null;          // last snapshot from the station
  var hello = null;          // public info for the login screen
  var events = null;         // EventSource
  var progress = null;       // last device progress event
  var notice = null;         // { kind: 'err'|'warn'|'ok', key, params, err?, testid } shown above the step
  var ui = {};               // per-session scratch of the steps (forms, selections); reset for a new session
  var uiSessionId = null;
  var keptUi = null;         // the steps' scratch of a session kept across an idle logout (memory only), for the same session
  var dlg = null;            // { id, params } of the open dialog
  var idle = null;           // { deadline (local ms) } while the idle countdown runs
  var lastKey = '';
  var lastView = '';
  var lastErrKey = '';
  var previews = {};         // path -> { id, url }
  var steps = {};
  var panels = {};
  var dialogs = {};
  var serverOffset = 0;      // server clock - local clock

  var $ = function (id) { return document.getElementById(id); };

  // ───────────── translations ─────────────
  function t(key, params) {
    var s = dict[key];
    if (s === undefined) return null;
    if (params) Object.keys(params).forEach(function (k) { s = s.split('{' + k + '}').join(String(params[k])); });
    return s;
  }
  /** The catalogue's text, or (never shown in a finished page: the i18n test checks every literal key) the key itself. */
  function tt(key, params, fallbackKey) {
    var s = t(key, params);
    if (s === null && fallbackKey) s = t(fallbackKey, params);
    return s === null ? key : s;
  }
  function codePrefix(code) { return String(code || '').split('_')[0] + '_*'; }

  /**
   * An error from the station ({code, message, hint?, details?}) in the officer's language:
   * { text, hint, tech } — tech is the station's own (English) message, for technicians, on demand.
   */
  function errText(err) {
    err = err || {};
    var d = err.details || {};
    var rule = d.rule, reason = d.reason;
    var pos = err.matchedPosition || d.matchedPosition;
    var params = pos ? { finger: tt('finger.' + pos) } : null;
    var text = (rule && t('input.' + rule)) || (reason && t('refused.' + reason)) || t('code.' + err.code, params) || t('code.' + codePrefix(err.code)) || tt('code.unknown');
    var hint = (rule && t('input.' + rule + '.hint')) || (reason && t('refused.' + reason + '.hint')) || t('hint.' + err.code) || t('hint.' + codePrefix(err.code)) || null;
    var tech = (err.code || '') + (err.message ? ': ' + err.message : '') + (err.hint ? ' (' + err.hint + ')' : '');
    // a chip that refused the CAN or the MRZ (or has blocked it): which one, the tries left, what to do (steps/chip.js)
    var denied = K.chipAccessError && K.chipAccessError(err);
    if (denied) { text = tt(denied.key, denied.params); hint = tt(denied.hint); }
    return { text: text, hint: hint, tech: tech };
  }

  // ───────────── DOM helpers ─────────────
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') el.textContent = v;
      else if (k === 'class') el.className = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { append(el, x); }); return; }
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  function btn(label, onclick, cls, testid, disabled) {
    return h('button', { type: 'button', class: 'btn ' + (cls || ''), onclick: onclick, 'data-testid': testid, disabled: !!disabled, text: label });
  }
  /** Data (a name, a number the officer typed), not a word of the interface: marked so the catalogue test can tell. */
  function raw(v, cls) { return h('span', { class: 'raw ' + (cls || ''), 'data-raw': '', text: v === null || v === undefined || v === '' ? '—' : String(v) }); }

  var ICONS = {
    fingerprint: 'M12 3a8 8 0 0 0-8 8v2M20 13v-2a8 8 0 0 0-4-6.9M8 21c1-2 1.5-4.5 1.5-7a2.5 2.5 0 0 1 5 0c0 3-.5 5.5-1.5 7.5M12 14c0 3-.6 5.4-2 7M16.5 20c.4-1.8.5-3.9.5-6a5 5 0 0 0-10 0v1',
    camera: 'M4 8h3l2-2.5h6L17 8h3v11H4zM12 17a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z',
    card: 'M3 6h18v12H3zM6 10h4v4H6zM13 10h5M13 13.5h3',
    gpio: 'M9 18h6M10 21h4M12 3a6 6 0 0 0-3.5 10.9c.6.5 1 1.2 1 2.1h5c0-.9.4-1.6 1-2.1A6 6 0 0 0 12 3z',
    uplink: 'M5 12.5a10 10 0 0 1 14 0M8 15.5a6 6 0 0 1 8 0M11 18.5a2 2 0 0 1 2 0M12 21h.01',
    offline: 'M5 12.5a10 10 0 0 1 14 0M8 15.5a6 6 0 0 1 8 0M12 21h.01M3 3l18 18',
    logout: 'M14 4h5v16h-5M10 8l-4 4 4 4M6 12h10',
    lock: 'M6 11h12v9H6zM8.5 11V8a3.5 3.5 0 0 1 7 0v3',
    upload: 'M12 17V5M7 10l5-5 5 5M5 20h14',
    today: 'M4 6h16v14H4zM4 10h16M8 3v5M16 3v5M8.5 15l2.5 2.5 4.5-4.5',
    tools: 'M14.5 5.5a4 4 0 0 0 4.9 5l-8.6 8.6a2 2 0 0 1-2.9-2.9l8.6-8.6a4 4 0 0 0-2-2.1z',
  };
  function icon(name) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('aria-hidden', 'true');
    var p = document.createElementNS(ns, 'path');
    p.setAttribute('d', ICONS[name] || ICONS.tools);
    svg.appendChild(p);
    return svg;
  }

  // ───────────── dates and times (DD/MM/YYYY, 24 h) ─────────────
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function fmtDateMs(ms) { var d = new Date(ms); return pad(d.getDate()) + '/' + pad(d.getMonth() + 1) + '/' + d.getFullYear(); }
  function fmtClock(ms) { var d = new Date(ms); return pad(d.getHours()) + ':' + pad(d.getMinutes()); }
  function fmtTime(ms) { if (!ms) return tt('status.never'); return fmtClock(ms) + ' ' + fmtDateMs(ms); }
  /** Today: "10:32"; another day: "10:32 28/11/2026". */
  function fmtWhen(ms) { if (!ms) return tt('status.never'); return fmtDateMs(ms) === fmtDateMs(Date.now()) ? fmtClock(ms) : fmtTime(ms); }
  /** "1990-05-17" → "17/05/1990" (anything else as it is). */
  function isoToDmy(iso) { var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || ''); return m ? m[3] + '/' + m[2] + '/' + m[1] : (iso || ''); }
  /** "17/05/1990" or "17051990" → "900517"; null when not a date. */
  function dmyToYymmdd(v) {
    var m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec((v || '').trim()) || /^(\d{2})(\d{2})(\d{4})$/.exec((v || '').trim());
    return m ? m[3].slice(2) + pad(Number(m[2])) + pad(Number(m[1])) : null;
  }
  /** MRZ "900517" → "17/05/1990"; birth dates are in the past, expiry dates within the next decades. */
  function yymmddToDmy(v, kind) {
    var m = /^(\d{2})(\d{2})(\d{2})$/.exec(v || '');
    if (!m) return v || '';
    var yy = Number(m[1]), now = new Date().getFullYear() % 100;
    var century = kind === 'birth' ? (yy > now ? 1900 : 2000) : (yy >= 70 ? 1900 : 2000);
    return m[3] + '/' + m[2] + '/' + (century + yy);
  }
  /** Typing help for a date field: digits only, slashes inserted (DD/MM/YYYY). */
  function dateInput(attrs) {
    var el = h('input', Object.assign({ type: 'text', inputmode: 'numeric', autocomplete: 'off', maxlength: 10, placeholder: tt('date.placeholder') }, attrs));
    el.addEventListener('input', function (e) {
      if (e.inputType && e.inputType.indexOf('delete') === 0) return;
      var d = el.value.replace(/[^0-9]/g, '').slice(0, 8);
      var out = d.length > 4 ? d.slice(0, 2) + '/' + d.slice(2, 4) + '/' + d.slice(4) : d.length > 2 ? d.slice(0, 2) + '/' + d.slice(2) : d;
      if (/^[0-9/]*$/.test(el.value) && out !== el.value) el.value = out;
    });
    return el;
  }

  // ───────────── network ─────────────
  function api(method, path, body) {
    var headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; });
      }, function () { return { status: 0, body: { error: { code: 'NETWORK', message: 'no answer from the station' } } }; });
  }

  /**
   * An officer action: POST, take the new state, show a refusal. Returns the response.
   * `opts.quiet`: the caller shows the error itself (e.g. inside a dialog).
   */
  function act(path, body, opts) {
    opts = opts || {};
    if (!opts.keepNotice) notice = null;
    return api('POST', path, body || {}).then(function (r) {
      if (r.body && r.body.state) setState(r.body.state);
      if (r.status === 401 && r.body.error && r.body.error.code === 'WORKFLOW_AUTH') { loggedOut('expired'); return r; }
      if (r.status >= 400 && r.status !== 422 && !opts.quiet) showError(r.body.error);
      render();
      return r;
    });
  }

  function showError(err) {
    if (!err) return;
    var reason = err.details && err.details.reason;
    notice = { kind: 'err', err: err, testid: 'error-' + (reason || (err.details && err.details.rule) || err.code) };
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
    events.addEventListener('idle', function (e) { var d = JSON.parse(e.data); setIdle(d.remainingMs); });
    events.addEventListener('logout', function (e) { var d = JSON.parse(e.data); loggedOut(d.reason, d.parked); });
    events.onerror = function () {
      // The stream dropped: the browser retries by itself; if the session is gone, say so.
      api('GET', '/api/state').then(function (r) {
        if (r.status === 401 && token) loggedOut('expired');
        else if (r.status === 0) { notice = { kind: 'err', key: 'error.network', testid: 'network' }; render(); }
      });
    };
  }

  function setState(s) {
    state = s;
    if (s.serverTime) serverOffset = s.serverTime - Date.now();
    var sid = s.session ? s.session.id : null;
    if (sid !== uiSessionId) {
      ui = keptUi && keptUi.id === sid ? keptUi.ui : {};
      keptUi = null;
      uiSessionId = sid;
      if (dlg && dlg.session) dlg = null;
    }
    if (!s.session || !s.session.busy) progress = null;
    if (s.idleRemainingMs !== undefined) setIdle(s.idleRemainingMs, true);
  }

  function loggedOut(reason, parked) {
    if (events) { events.close(); events = null; }
    keptUi = reason === 'idle' && parked && uiSessionId ? { id: uiSessionId, ui: ui } : null;
    token = null; state = null; ui = {}; uiSessionId = null; dlg = null; idle = null;
    renderIdle();
    sessionStorage.removeItem(TOKEN_KEY);
    Object.keys(previews).forEach(function (k) { URL.revokeObjectURL(previews[k].url); });
    previews = {};
    var key = reason === 'idle' && parked ? 'loggedOut.idleKept' : 'loggedOut.' + reason;
    notice = reason && t(key) ? { kind: 'warn', key: key, testid: 'logged-out-' + reason } : null;
    loadHello().then(render);
  }

  function loadHello() {
    return api('GET', '/api/hello').then(function (r) { if (r.status === 200) hello = r.body; });
  }

  function loadLang(l) {
    return fetch('/i18n/' + l + '.json', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (d) {
      dict = d; lang = l; document.documentElement.lang = l; localStorage.setItem(LANG_KEY, l);
      document.title = tt('app.title');
    });
  }

  // ───────────── activity and the idle countdown ─────────────
  var lastPing = 0;
  function pingEvery() { var ms = state && state.idleLogoutMs ? state.idleLogoutMs / 10 : 5000; return Math.max(500, Math.min(5000, ms)); }
  function activity() {
    if (!token) return;
    var now = Date.now();
    if (idle) { idle = null; renderIdle(); lastPing = 0; }
    if (now - lastPing < pingEvery()) return;
    lastPing = now;
    api('POST', '/api/activity', {}).then(function (r) { if (r.status === 401) loggedOut('expired'); });
  }
  ['pointerdown', 'keydown', 'input', 'wheel', 'touchstart'].forEach(function (ev) {
    document.addEventListener(ev, activity, { capture: true, passive: true });
  });

  var idleTick = null;
  function setIdle(remainingMs, fromSnapshot) {
    if (remainingMs === null || remainingMs === undefined) {
      if (fromSnapshot && !idle) return;
      idle = null;
    } else {
      idle = { deadline: Date.now() + remainingMs };
    }
    renderIdle();
  }
  function renderIdle() {
    var el = $('idle');
    el.classList.toggle('hidden', !idle);
    if (!idle) { if (idleTick) { clearInterval(idleTick); idleTick = null; } el.textContent = ''; return; }
    var secs = function () { return Math.max(0, Math.ceil((idle.deadline - Date.now()) / 1000)); };
    if (!el.firstChild) {
      var count = h('div', { class: 'idle-count', 'data-testid': 'idle-seconds' });
      el.appendChild(h('div', { class: 'overlay-box idle-box', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': 'idle-title', 'data-testid': 'idle-countdown' },
        h('h2', { id: 'idle-title', text: tt('idle.title') }), count, h('p', { text: tt('idle.body') }),
        h('div', { class: 'row-actions' }, btn(tt('next'), function () { lastPing = 0; activity(); }, 'primary big', 'idle-continue'))));
      announce(tt('idle.title'));
    }
    var update = function () {
      if (!idle) return;
      var c = el.querySelector('[data-testid="idle-seconds"]');
      if (c) c.textContent = tt('idle.seconds', { n: secs() });
    };
    update();
    if (!idleTick) idleTick = setInterval(update, 250);
    var b = el.querySelector('[data-testid="idle-continue"]');
    if (b && document.activeElement !== b) b.focus({ preventScroll: true });
  }

  function announce(text) {
    var a = $('announce');
    a.textContent = '';
    setTimeout(function () { a.textContent = text; }, 30);
  }

  // ───────────── previews (fetched with the token, shown as blob URLs) ─────────────
  function preview(img, path, id, onFail) {
    var cached = previews[path];
    if (cached && cached.id === id) { img.src = cached.url; return; }
    blob(path).then(function (b) {
      if (!b) { if (onFail) onFail(); return; }
      if (previews[path]) URL.revokeObjectURL(previews[path].url);
      var url = URL.createObjectURL(b);
      previews[path] = { id: id, url: url };
      img.src = url;
    });
  }
  function blob(path) {
    return fetch(path, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' }).then(function (r) { return r.ok ? r.blob() : null; }, function () { return null; });
  }

  // ───────────── registries for steps, panels and dialogs ─────────────
  /** A step's view: fn(session, ctx) → { title, body, actions: [button…] } (the primary action has class "primary"). */
  K.step = function (name, fn) { steps[name] = fn; };
  /**
   * Extra UI inside a step: { id, slot?: 'top' | 'end' | a name the step places with ctx.slot(name), order?, render(session, ctx) → Node | null }.
   * Panels with the same slot appear in `order` (default 50).
   */
  K.panel = function (step, def) {
    (panels[step] = panels[step] || []).push(def);
    panels[step].sort(function (a, b) { return (a.order || 50) - (b.order || 50); });
  };
  /** A dialog: fn(params, ctx) → { title, body, actions, testid? }. Opened with Kiosk.openDialog(id, params). */
  K.dialog = function (id, fn) { dialogs[id] = fn; };
  K.openDialog = function (id, params, o) { dlg = { id: id, params: params || {}, session: !(o && o.keep), error: null }; render(); };
  K.closeDialog = function () { dlg = null; render(); };
  /** Shows an error inside the open dialog (localized like any other). */
  K.dialogError = function (err) { if (dlg) { dlg.error = err; render(); } };

  // ───────────── rendering ─────────────
  function view() {
    if (!token || !state) return 'login';
    var s = state.session;
    if (!s) return 'home';
    return s.step === 'sealing' ? 'review' : s.step;
  }

  function ctxFor(s) {
    var slots = {};
    var fill = function (name) {
      var out = [];
      (panels[view()] || []).forEach(function (p) {
        if ((p.slot || 'end') !== name) return;
        var n = p.render(s, ctx);
        if (n) out.push(h('div', { class: 'panel', 'data-panel': p.id }, n));
      });
      return out;
    };
    var ctx = {
      state: state, hello: hello, ui: ui, lang: lang,
      /** Where the step wants a slot's panels; returns a container (empty when none). */
      slot: function (name) { slots[name] = true; return h('div', { class: 'slot', 'data-slot': name }, fill(name)); },
      placed: function (name) { return !!slots[name]; },
      fill: fill,
      rerender: function () { lastKey = ''; render(); },
    };
    return ctx;
  }

  function render() {
    renderBar();
    renderSteps();
    renderBusy();
    var v = view();
    var key = JSON.stringify([lang, v, notice, ui, dlg, hello && hello.lostSession, hello && hello.officerIdNumeric, state && stripVolatile(state)]);
    if (key === lastKey) return;
    lastKey = key;
    var main = $('main');
    var focused = document.activeElement && document.activeElement.id;
    var selStart = null, selEnd = null;
    if (focused && document.activeElement.setSelectionRange && typeof document.activeElement.selectionStart === 'number') {
      selStart = document.activeElement.selectionStart; selEnd = document.activeElement.selectionEnd;
    }
    var scroll = main.scrollTop;
    var s = state && state.session;
    var ctx = ctxFor(s);
    var out;
    try {
      out = (steps[v] || steps.unknown)(s, ctx) || {};
    } catch (e) {
      if (window.console) console.error(e);
      out = { title: tt('error.title'), body: null, actions: [] };
    }
    // notices above the step: global notice, then the step's own
    var notices = $('notices');
    notices.textContent = '';
    if (notice) notices.appendChild(noticeBlock(notice));
    var cb = clockBanner();
    if (cb) notices.appendChild(cb);
    if (s && s.lastError && v !== 'home' && !out.ownsError) notices.appendChild(deviceErrorBlock(s));
    var body = $('body');
    body.textContent = '';
    body.setAttribute('data-view', v);
    var top = ctx.fill('top');
    if (top.length) append(body, top);
    if (out.title) body.appendChild(titleRow(out.title, s));
    append(body, out.body);
    if (!ctx.placed('end')) append(body, ctx.fill('end'));
    renderActions(out.actions || [], s, v);
    renderDialog(s);
    // every step opens at its top; otherwise keep the officer's place
    if (v + (s ? s.id : '') !== lastView) { main.scrollTop = 0; lastView = v + (s ? s.id : ''); } else main.scrollTop = scroll;
    if (focused && $(focused) && (!dlg || $('dialog').contains($(focused)))) {
      var f = $(focused);
      f.focus({ preventScroll: true });
      if (selStart !== null && f.setSelectionRange) { try { f.setSelectionRange(selStart, selEnd); } catch (e) { /* not a text field */ } }
    }
    revealErrors();
  }

  /** A new error: scroll it into view and read it out. */
  function revealErrors() {
    var els = document.querySelectorAll('[data-error]');
    var key = Array.prototype.map.call(els, function (e) { return e.getAttribute('data-error') + ':' + e.textContent; }).join('|');
    if (key === lastErrKey) return;
    lastErrKey = key;
    if (!els.length) return;
    var first = els[0];
    var target = first.getAttribute('data-scroll') ? document.querySelector(first.getAttribute('data-scroll')) || first : first;
    if (target.scrollIntoView) target.scrollIntoView({ block: 'nearest' });
    var said = first.querySelector('.error-text');
    announce(first.getAttribute('data-say') || (said ? said.textContent : first.textContent));
  }

  function stripVolatile(s) {
    var c = { officer: s.officer, guard: s.guard, lost: s.lostSession, session: s.session, devices: s.devices, uplink: s.uplink && { connected: s.uplink.connected, clock: s.uplink.clock }, demo: s.demoFaults };
    if (c.session && c.session.busy) c.session = Object.assign({}, c.session, { busy: { op: c.session.busy.op, position: c.session.busy.position } });
    return c;
  }

  function titleRow(title, s) {
    var n = null;
    if (s && s.steps) {
      var list = s.steps.filter(function (x) { return x !== 'sealed'; });
      var i = list.indexOf(s.step === 'sealing' ? 'review' : s.step);
      if (i >= 0) n = h('span', { class: 'stepno', text: tt('step.of', { n: i + 1, total: list.length }) });
    }
    return h('div', { class: 'title-row' }, h('h1', { id: 'step-title', tabindex: '-1', text: title }), n);
  }

  function noticeBlock(n) {
    if (n.err) {
      var e = errText(n.err);
      return h('div', { class: 'banner err', role: 'alert', 'data-testid': n.testid || 'notice', 'data-error': 'notice' },
        h('div', { class: 'error-text', text: e.text }), e.hint ? h('div', { class: 'hint', text: e.hint }) : null, techDetails(e.tech),
        h('div', { class: 'row-actions' }, btn(tt('error.dismiss'), function () { notice = null; render(); }, 'small-btn', 'notice-dismiss')));
    }
    return h('div', { class: 'banner ' + n.kind, role: n.kind === 'err' ? 'alert' : 'status', 'data-testid': n.testid || 'notice', 'data-error': n.kind === 'err' ? 'notice' : null },
      h('div', { text: tt(n.key, n.params) }));
  }

  /** The station clock far from headquarters' signed time (or unset with none yet): told to the officer on every screen. */
  function clockBanner() {
    var c = state && state.uplink && state.uplink.clock;
    if (!c) return null;
    if (c.skewed && typeof c.offsetMin === 'number') {
      // offset = headquarters' time minus local: positive means the local clock is behind
      var key = c.offsetMin > 0 ? 'clock.behind' : 'clock.ahead';
      return h('div', { class: 'banner warn clock-banner', role: 'status', 'data-testid': 'clock-skew', 'data-offset-min': String(c.offsetMin) }, h('div', { text: tt(key, { min: Math.abs(c.offsetMin) }) }));
    }
    if (c.unset) return h('div', { class: 'banner warn clock-banner', role: 'status', 'data-testid': 'clock-unset' }, h('div', { text: tt('clock.unset') }));
    return null;
  }

  function techDetails(text) {
    if (!text) return null;
    return h('details', { class: 'tech' }, h('summary', { text: tt('error.technical') }), h('div', { class: 'mono', 'data-tech': '', text: text }));
  }
  K.techDetails = techDetails;

  /** The last device failure of the session, with Retry / Record exception / Dismiss. */
  function deviceErrorBlock(s) {
    var e = s.lastError;
    var loc = errText(e);
    var retry = null, exc = null;
    if (e.op === 'finger') { retry = function () { act('/api/session/finger/capture', { position: e.position }); }; exc = function () { K.openException('finger', e.position, 'device_failure'); }; }
    if (e.op === 'portrait') { retry = function () { act('/api/session/portrait/capture'); }; exc = function () { K.openException('portrait', null, 'device_failure'); }; }
    if (e.op === 'chip') { retry = function () { if (K.readChip) K.readChip(); }; exc = function () { K.openException('chip', null, K.chipExceptionCode ? K.chipExceptionCode(e.code) : 'device_failure'); }; }
    if (e.op === 'seal') { retry = function () { act('/api/session/confirm'); }; }
    return h('div', { class: 'banner err', role: 'alert', 'data-testid': 'device-error', 'data-code': e.code, 'data-error': 'device' },
      h('div', { class: 'error-text', text: loc.text }), loc.hint ? h('div', { class: 'hint', text: loc.hint }) : null, techDetails(loc.tech),
      h('div', { class: 'row-actions' },
        retry ? btn(tt('retry'), retry, 'primary', 'error-retry') : null,
        exc ? btn(tt('exc.record'), exc, '', 'error-exception') : null,
        btn(tt('error.dismiss'), function () { act('/api/session/dismiss-error'); }, '', 'error-dismiss')));
  }

  function renderActions(actions, s, v) {
    var bar = $('actions');
    bar.textContent = '';
    var left = h('div', { class: 'left' });
    var right = h('div', { class: 'right' });
    if (s && v !== 'sealed' && v !== 'home') left.appendChild(btn(tt('abort'), function () { K.openDialog('abort'); }, 'danger', 'abort', s.busy && s.busy.op === 'seal'));
    actions.forEach(function (a) { if (a) right.appendChild(a); });
    bar.appendChild(left);
    bar.appendChild(right);
    bar.classList.toggle('hidden', !left.firstChild && !right.firstChild);
  }

  function renderDialog(s) {
    var layer = $('dialog');
    layer.textContent = '';
    var fn = dlg && dialogs[dlg.id];
    layer.classList.toggle('hidden', !fn);
    if (!fn) return;
    var d = fn(dlg.params, ctxFor(s)) || {};
    var err = null;
    if (dlg.error) {
      var e = errText(dlg.error);
      err = h('div', { class: 'banner err', role: 'alert', 'data-testid': 'dialog-error', 'data-error': 'dialog' }, h('div', { class: 'error-text', text: e.text }), e.hint ? h('div', { class: 'hint', text: e.hint }) : null);
    }
    var box = h('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'dialog-title', 'data-testid': d.testid || 'dialog-' + dlg.id },
      h('h2', { id: 'dialog-title', text: d.title || '' }),
      h('div', { class: 'dialog-body' }, err, d.body),
      h('div', { class: 'dialog-actions' }, d.actions || [btn(tt('close'), K.closeDialog, 'primary', 'dialog-close')]));
    layer.appendChild(box);
    if (dlg !== lastDlg) {
      lastDlg = dlg;
      var first = box.querySelector('[autofocus]') || box.querySelector('.dialog-actions .primary') || box.querySelector('button');
      if (first) first.focus({ preventScroll: true });
    }
  }
  var lastDlg = null;

  // ───────────── header ─────────────
  var LEVEL = { ready: 'ok', simulated: 'ok', busy: 'busy', degraded: 'warn', error: 'bad', absent: 'bad' };
  function renderBar() {
    $('bar-title').textContent = tt('app.title');
    var lb = $('bar-lang');
    lb.textContent = tt('lang.short');
    lb.setAttribute('aria-label', tt('lang.switch'));
    lb.setAttribute('title', tt('lang.switch'));
    var logout = $('bar-logout');
    logout.textContent = '';
    append(logout, [icon('logout'), h('span', { class: 'lbl', text: tt('logout') })]);
    logout.setAttribute('aria-label', tt('logout'));
    logout.classList.toggle('hidden', !token);
    var dev = $('bar-devices');
    dev.textContent = '';
    var up = $('bar-uplink');
    up.textContent = '';
    var counts = $('bar-counts');
    counts.textContent = '';
    var off = $('bar-officer');
    off.textContent = '';
    var tools = $('bar-tools');
    tools.textContent = '';
    if (!state) return;
    (state.devices || []).forEach(function (d) {
      var label = tt('device.' + d.device, null, 'device.other');
      var st = tt('devstate.' + d.state);
      dev.appendChild(h('button', {
        type: 'button', class: 'dev lvl-' + (LEVEL[d.state] || 'off'), 'data-device': d.device, 'data-state': d.state, 'data-testid': 'device-' + d.device,
        'aria-label': label + ': ' + st, title: label + ': ' + st,
        onclick: function () { K.openDialog('device', { device: d.device }, { keep: true }); },
      }, icon(d.device), h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { class: 'lbl' }, h('span', { text: label }), h('span', { class: 'st', text: st }))));
    });
    var u = state.uplink;
    if (u) {
      var online = u.connected === true;
      var when = online ? null : fmtWhen(u.lastContactAt || u.lastSyncAt);
      up.appendChild(h('button', {
        type: 'button', class: 'dev uplink-chip lvl-' + (online ? 'ok' : 'bad'), 'data-testid': 'uplink', 'data-online': String(online),
        'aria-label': tt(online ? 'status.online' : 'status.offline') + (online ? '' : ' · ' + tt('status.lastContact') + ': ' + when),
        onclick: function () { K.openDialog('uplink', null, { keep: true }); },
      }, icon(online ? 'uplink' : 'offline'), h('span', { class: 'dot', 'aria-hidden': 'true' }),
      h('span', { class: 'uplink-text' }, h('span', { text: tt(online ? 'status.online' : 'status.offline') }),
        online ? null : h('span', { class: 'contact', 'data-testid': 'last-contact' }, ' · ', h('span', { class: 'lbl2', text: tt('status.lastContact') + ': ' }), when)),
      h('span', { class: 'sr', 'data-testid': 'last-sync' }, tt('status.lastSync') + ': ', fmtTime(u.lastSyncAt))));
      counts.appendChild(h('span', { class: 'count', 'data-testid': 'waiting', title: tt('status.waiting') },
        icon('upload'), h('span', { class: 'lbl', text: tt('status.waiting') + ': ' }), String(u.waiting)));
    }
    if (state.today) {
      counts.appendChild(h('span', { class: 'count', 'data-testid': 'today', title: tt('status.today') },
        icon('today'), h('span', { class: 'lbl', text: tt('status.today') + ': ' }), state.today.enrollments + state.today.activations + (state.today.quota ? ' / ' + state.today.quota : '')));
    }
    if (state.officer) off.appendChild(raw(state.officer.name));
    if (state.demoFaults) tools.appendChild(h('button', { type: 'button', class: 'hbtn', 'data-testid': 'faults-open', 'aria-label': tt('faults.title'), title: tt('faults.title'), onclick: function () { K.openDialog('faults', null, { keep: true }); } }, icon('tools')));
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
    var text = phase === 'sealing' ? tt('sealing.title') : tt('phase.' + phase, null, 'phase.working');
    if (busy.op === 'finger' && busy.position) text = tt('finger.' + busy.position) + ' — ' + text;
    $('busy-text').textContent = text;
  }

  // ───────────── dialogs every step uses ─────────────
  K.dialog('abort', function () {
    return {
      title: tt('abort.title'), testid: 'abort-dialog',
      body: h('p', { text: tt('abort.confirm') }),
      actions: [btn(tt('no'), K.closeDialog, 'primary', 'abort-no'), btn(tt('abort.yes'), function () { dlg = null; act('/api/session/abort'); }, 'danger', 'abort-yes')],
    };
  });

  K.dialog('device', function (p) {
    var d = (state && state.devices || []).filter(function (x) { return x.device === p.device; })[0];
    if (!d) return { title: tt('device.' + p.device, null, 'device.other') };
    var body = h('div', { 'data-testid': 'device-info', 'data-state': d.state },
      h('p', { class: 'lvl-text lvl-' + (LEVEL[d.state] || 'off'), text: tt('devstate.long.' + d.state, null, 'devstate.' + d.state) }));
    if (d.code || (d.state !== 'ready' && d.state !== 'simulated' && d.detail)) {
      var e = errText({ code: d.code || 'DEVICE_ERROR', message: d.detail });
      body.appendChild(h('p', { class: 'error-text', 'data-testid': 'device-reason', text: e.text }));
      if (e.hint) body.appendChild(h('p', { class: 'hint', text: e.hint }));
      if (d.since) body.appendChild(h('p', null, tt('device.since') + ': ', fmtTime(d.since)));
      body.appendChild(techDetails(e.tech));
    }
    return { title: tt('device.' + d.device, null, 'device.other'), body: body, testid: 'device-dialog' };
  });

  K.dialog('uplink', function () {
    var u = (state && state.uplink) || {};
    var online = u.connected === true;
    return {
      title: tt('status.uplink'), testid: 'uplink-dialog',
      body: h('div', null,
        h('p', { class: 'lvl-text lvl-' + (online ? 'ok' : 'bad'), text: tt(online ? 'status.online.long' : 'status.offline.long') }),
        online ? null : h('p', null, tt('status.lastContact') + ': ', fmtTime(u.lastContactAt || u.lastSyncAt)),
        h('p', null, tt('status.lastSync') + ': ', fmtTime(u.lastSyncAt)),
        h('p', null, tt('status.waiting') + ': ', String(u.waiting || 0))),
    };
  });

  /**
   * "Why can this not be captured?": the officer picks a reason code and types why.
   * what: 'finger' (with position) | 'portrait' | 'chip'.
   */
  var EXC = { finger: ['missing', 'amputated', 'bandaged', 'unable', 'device_failure'], portrait: ['unable', 'device_failure'], chip: ['unable', 'device_failure'] };
  var EXC_PATH = { finger: '/api/session/finger/exception', portrait: '/api/session/portrait/exception', chip: '/api/session/chip/exception' };
  K.openException = function (what, position, code) {
    var go = function () { dlg = { id: 'exception', params: { what: what, position: position }, session: true, error: null }; ui.exc = { code: code || '', reason: '' }; render(); };
    if (state && state.session && state.session.lastError) act('/api/session/dismiss-error').then(go); else go();
  };
  K.dialog('exception', function (p) {
    var x = ui.exc || (ui.exc = { code: '', reason: '' });
    var opts = h('div', { class: 'choices', role: 'radiogroup', 'data-testid': 'exc-code', 'aria-label': tt('exc.code') });
    EXC[p.what].forEach(function (c) {
      opts.appendChild(h('button', {
        type: 'button', role: 'radio', 'aria-checked': String(x.code === c), class: 'choice' + (x.code === c ? ' on' : ''), 'data-code': c,
        onclick: function () { x.code = c; dlg.error = null; render(); },
      }, tt('exc.' + c)));
    });
    var reason = h('textarea', { id: 'exc-reason', rows: 2, maxlength: 300, 'data-testid': 'exc-reason', oninput: function () { x.reason = reason.value; } });
    reason.value = x.reason;
    var what = p.what === 'finger' ? tt('finger.' + p.position) : tt(p.what === 'portrait' ? 'portrait.title' : 'chip.title');
    var save = function () {
      if (!x.code) { K.dialogError({ code: 'WORKFLOW_INPUT', details: { rule: 'exception_code' } }); return; }
      if (x.reason.trim().length < 3) { K.dialogError({ code: 'WORKFLOW_INPUT', details: { rule: 'reason_required' } }); reason.focus(); return; }
      var body = { code: x.code, reason: x.reason };
      if (p.what === 'finger') body.position = p.position;
      act(EXC_PATH[p.what], body, { quiet: true }).then(function (r) {
        if (r.status === 200) { dlg = null; ui.exc = null; if (p.what === 'finger') ui.selFinger = null; render(); } else K.dialogError(r.body.error);
      });
    };
    return {
      title: tt('exc.titleFor', { what: what }), testid: 'exc-panel',
      body: h('div', null, opts, h('label', { class: 'f', for: 'exc-reason', text: tt('exc.reason') }), reason),
      actions: [btn(tt('cancel'), function () { dlg = null; ui.exc = null; render(); }, '', 'exc-cancel'), btn(tt('save'), save, 'primary', 'exc-save')],
    };
  });

  K.step('unknown', function (s) { return { title: tt('error.title'), body: h('p', { text: tt('code.unknown') }), actions: [] }; });

  // ───────────── public helpers for the step files ─────────────
  K.t = t; K.tt = tt; K.h = h; K.btn = btn; K.raw = raw; K.icon = icon; K.append = append;
  K.api = api; K.act = act; K.showError = showError; K.errText = errText; K.preview = preview; K.blob = blob; K.announce = announce;
  K.fmtTime = fmtTime; K.fmtWhen = fmtWhen; K.fmtDate = isoToDmy; K.fmtDateMs = fmtDateMs; K.dateInput = dateInput; K.dmyToYymmdd = dmyToYymmdd; K.yymmddToDmy = yymmddToDmy;
  K.render = render;
  K.rerender = function () { lastKey = ''; render(); };
  K.state = function () { return state; };
  K.hello = function () { return hello; };
  K.ui = function () { return ui; };
  K.token = function () { return token; };
  K.lang = function () { return lang; };
  K.setNotice = function (n) { notice = n; };
  K.loadHello = loadHello;
  K.serverNow = function () { return Date.now() + serverOffset; };
  /** After a successful login: keep the token, open the event stream. */
  K.loggedIn = function (r) {
    token = r.token; sessionStorage.setItem(TOKEN_KEY, token);
    notice = r.restored ? { kind: 'ok', key: 'session.restored', testid: 'session-restored' } : null;
    setState(r.state); connectEvents(); render();
  };
  /** Gauge: value against a threshold range on a scale [lo, hi]; `ok` colours it. */
  K.gauge = function (o) {
    var span = (o.hi - o.lo) || 1;
    var pos = function (v) { return Math.max(0, Math.min(100, ((v - o.lo) / span) * 100)); };
    var g = h('div', { class: 'gauge ' + (o.ok ? 'good' : 'bad'), role: 'meter', 'aria-valuemin': String(o.lo), 'aria-valuemax': String(o.hi), 'aria-valuenow': String(o.value), 'aria-label': o.label || '', 'data-testid': o.testid });
    var fill = h('div', { class: 'fill' });
    fill.style.width = pos(o.value) + '%';
    g.appendChild(fill);
    if (o.min !== undefined) { var a = h('div', { class: 'mark' }); a.style.left = pos(o.min) + '%'; g.appendChild(a); }
    if (o.max !== undefined) { var b = h('div', { class: 'mark' }); b.style.left = pos(o.max) + '%'; g.appendChild(b); }
    return g;
  };

  // ───────────── start ─────────────
  $('bar-lang').addEventListener('click', function () { loadLang(lang === 'vi' ? 'en' : 'vi').then(function () { lastKey = ''; render(); }); });
  $('bar-logout').addEventListener('click', function () {
    var s = state && state.session;
    if (s && s.step !== 'sealed') { K.openDialog('logout', null, { keep: true }); return; }
    K.logout();
  });
  K.logout = function () {
    var tk = token;
    dlg = null;
    api('POST', '/api/logout', {}).then(function () { if (tk === token) loggedOut(null); });
  };
  K.dialog('logout', function () {
    return {
      title: tt('logout'), testid: 'logout-dialog', body: h('p', { text: tt('logout.confirm') }),
      actions: [btn(tt('no'), K.closeDialog, 'primary', 'logout-no'), btn(tt('logout.yes'), K.logout, 'danger', 'logout-yes')],
    };
  });

  function start() {
    loadHello().then(function () {
      var l = localStorage.getItem(LANG_KEY) || (hello && hello.language) || 'vi';
      return loadLang(l === 'en' ? 'en' : 'vi');
    }).then(function () {
      if (!token) { render(); return; }
      return api('GET', '/api/state').then(function (r) {
        if (r.status === 200) { setState(r.body); connectEvents(); render(); } else { loggedOut('expired'); }
      });
    }).then(function () {
      if (window.performance && performance.mark) performance.mark('kiosk-ready');
    });
  }
  document.addEventListener('DOMContentLoaded', start);
})();
