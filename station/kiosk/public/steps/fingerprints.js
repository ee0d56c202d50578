/* Fingerprints: the finger grid, the selected finger's preview, its verdict in
 * one sentence with a gauge against the threshold, and its actions. The next
 * finger is selected after a capture or an exception; the last preview stays
 * when every finger is done. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, btn = K.btn;

  K.deviceDown = function (name) {
    var d = (K.state().devices || []).filter(function (x) { return x.device === name; })[0];
    return d && (d.state === 'error' || d.state === 'absent') ? d : null;
  };
  /** "The scanner does not work: reason. Record an exception …" with a button for it. */
  K.deviceDownBanner = function (d, textKey, onException) {
    var e = K.errText({ code: d.code || 'DEVICE_ERROR', message: d.detail });
    return h('div', { class: 'banner warn', role: 'status', 'data-testid': 'device-down', 'data-device': d.device },
      h('div', { class: 'strong', text: tt(textKey) }), h('div', { text: e.text }),
      h('div', { class: 'row-actions' }, btn(tt('exc.recordDevice'), onException, 'primary', 'device-down-exception')));
  };

  function selected(s, ui) {
    var has = function (p) { return s.fingers.some(function (f) { return f.position === p; }); };
    if (ui.selFinger && has(ui.selFinger)) return ui.selFinger;
    if (s.currentFinger) return s.currentFinger;
    var done = s.fingers.filter(function (f) { return f.status === 'captured'; });
    return done.length ? done[done.length - 1].position : s.fingers[s.fingers.length - 1].position;
  }

  K.fingerVerdict = function (f, threshold) {
    var th = f.threshold !== undefined ? f.threshold : threshold;
    var wrap = h('div', { class: 'verdict-block', 'data-testid': 'finger-verdict-block' });
    var key = f.passed ? (th !== null && th !== undefined ? 'fp.verdict.good' : 'fp.verdict.goodNoTh') : (th !== null && th !== undefined ? 'fp.verdict.low' : 'fp.verdict.lowNoTh');
    wrap.appendChild(h('div', { class: 'verdict ' + (f.passed ? 'good' : 'bad'), 'data-testid': 'finger-verdict', 'data-passed': String(!!f.passed), text: tt(key, { q: f.quality, th: th }) }));
    wrap.appendChild(K.gauge({ value: f.quality, min: th === null || th === undefined ? undefined : th, lo: 0, hi: 100, ok: !!f.passed, label: tt('fp.gauge'), testid: 'finger-gauge' }));
    wrap.appendChild(h('div', { class: 'small', text: tt('fp.attempts', { n: f.attempts || 1 }) }));
    return wrap;
  };

  K.step('fingerprints', function (s, ctx) {
    var ui = ctx.ui;
    // the finger captured last (from any button): its picture and verdict stay in view while the next one waits
    var now = s.fingers.filter(function (x) { return x.status === 'captured'; }).map(function (x) { return x.position; });
    var fresh = now.filter(function (p) { return (ui.seenCaptured || []).indexOf(p) < 0; });
    if (fresh.length) ui.lastCaptured = fresh[fresh.length - 1];
    ui.seenCaptured = now;
    var sel = selected(s, ui);
    var f = s.fingers.filter(function (x) { return x.position === sel; })[0];
    var last = ui.lastCaptured && ui.lastCaptured !== sel && f.status === 'pending'
      ? s.fingers.filter(function (x) { return x.position === ui.lastCaptured && x.status === 'captured'; })[0] : null;
    var grid = h('div', { class: 'fingers', 'data-testid': 'finger-grid', role: 'group', 'aria-label': tt('fp.grid') });
    s.fingers.forEach(function (x) {
      grid.appendChild(h('button', {
        type: 'button', class: 'finger ' + x.status + (x.position === sel ? ' cur' : ''), 'data-testid': 'finger-' + x.position, 'data-status': x.status, 'aria-pressed': String(x.position === sel),
        onclick: function () { ui.selFinger = x.position; K.rerender(); },
      }, h('span', { class: 'fname', text: tt('finger.short.' + x.position) }), h('span', { class: 'fstat', text: tt('fp.status.' + x.status) })));
    });
    var shown = last || f;
    var img = h('img', { class: 'preview', alt: tt('fp.previewAlt', { finger: tt('finger.' + shown.position) }), 'data-testid': 'finger-preview', 'data-position': shown.position });
    var pic = h('div', { class: 'pic' + (last ? ' with-last' : '') });
    if (shown.status === 'captured' || shown.status === 'candidate') { K.preview(img, '/api/preview/finger/' + shown.position, shown.status + shown.quality + ':' + shown.attempts); pic.appendChild(img); }
    else pic.appendChild(h('div', { class: 'pic-empty', text: tt(f.status === 'exception' ? 'fp.noImageException' : 'fp.noImageYet') }));
    if (last) pic.appendChild(h('div', { class: 'last-capture', 'data-testid': 'finger-last' }, h('div', { class: 'small strong', text: tt('fp.justCaptured', { finger: tt('finger.' + last.position) }) }), K.fingerVerdict(last, s.fingerThreshold)));
    var info = h('div', { class: 'fp-info' }, h('h2', { 'data-testid': 'finger-current', text: tt('finger.' + sel) }));
    if (f.quality !== undefined) info.appendChild(K.fingerVerdict(f, s.fingerThreshold));
    if (f.exception) info.appendChild(h('div', { class: 'verdict', 'data-testid': 'finger-exception-text' }, tt('exc.' + f.exception.code) + ': ', K.raw(f.exception.reason)));
    if (f.exception && f.photo !== 'none') info.appendChild(h('div', { class: 'small', 'data-testid': 'finger-exception-photo', 'data-photo': f.photo, text: tt(f.photo === 'taken' ? 'fp.photo.taken' : 'fp.photo.failed') }));
    if (f.status === 'pending') info.appendChild(h('p', { class: 'small', text: tt('fp.howto') }));
    info.appendChild(ctx.slot('finger'));
    var row = h('div', { class: 'row-actions' });
    if (f.status === 'candidate') row.appendChild(btn(tt('fp.keep'), function () { K.act('/api/session/finger/keep', { position: sel }); }, '', 'finger-keep'));
    if (f.status === 'captured' || f.status === 'exception') row.appendChild(btn(tt('fp.redo'), function () { K.act('/api/session/finger/redo', { position: sel }).then(function () { ui.selFinger = sel; K.rerender(); }); }, '', 'finger-redo'));
    if (f.status !== 'exception') row.appendChild(btn(tt('fp.exception'), function () { ui.selFinger = sel; K.openException('finger', sel, ''); }, '', 'finger-exception'));
    info.appendChild(row);
    var down = K.deviceDown('fingerprint');
    var body = h('div', null,
      down && f.status !== 'exception' && f.status !== 'captured' ? K.deviceDownBanner(down, 'fp.deviceDown', function () { ui.selFinger = sel; K.openException('finger', sel, 'device_failure'); }) : null,
      h('div', { class: 'fp' }, h('div', { class: 'fp-left' }, grid, info), pic));
    var done = s.fingers.every(function (x) { return x.status === 'captured' || x.status === 'exception'; });
    var canCapture = f.status === 'pending' || f.status === 'candidate';
    return {
      title: tt('fp.title'),
      body: body,
      actions: [
        canCapture ? btn(f.status === 'pending' ? tt('fp.capture') : tt('fp.recapture'), function () { K.act('/api/session/finger/capture', { position: sel }); }, done ? 'big' : 'primary big', 'finger-capture') : null,
        btn(tt('next'), function () { ui.selFinger = null; K.act('/api/session/next'); }, done ? 'primary big' : 'big', 'next', !done),
      ],
    };
  });
})(window.Kiosk);
