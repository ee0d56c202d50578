/* Portrait: the live view while the officer positions the person (a clear
 * "no picture from the camera" instead of a black box when it fails), then the
 * photo with its verdict in one sentence and one gauge (the check that decided),
 * every check on demand. A camera that is missing or broken offers the
 * exception path at once. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, t = K.t, btn = K.btn;

  /** The check to show: the first that failed, else the one closest to its threshold. */
  function decisive(checks) {
    var margin = function (c) {
      var span = (c.hi - c.lo) || 1;
      var m = Infinity;
      if (c.min !== undefined) m = Math.min(m, (c.value - c.min) / span);
      if (c.max !== undefined) m = Math.min(m, (c.max - c.value) / span);
      return m;
    };
    var gauged = checks.filter(function (c) { return c.id !== 'subject'; });
    var failed = gauged.filter(function (c) { return !c.ok; });
    if (failed.length) return failed[0];
    return gauged.slice().sort(function (a, b) { return margin(a) - margin(b); })[0] || null;
  }

  function checkRow(c) {
    var v = c.id === 'subject' ? tt(c.ok ? 'yes' : 'no') : (Math.round(c.value * 100) / 100).toString();
    return h('div', { class: 'check', 'data-check': c.id },
      h('div', { class: 'check-label' }, h('span', { text: tt('check.' + c.id) }), ' ', h('span', { class: 'check-value', text: v })),
      c.id === 'subject' ? null : K.gauge({ value: c.value, min: c.min, max: c.max, lo: c.lo, hi: c.hi, ok: c.ok, label: tt('check.' + c.id) }));
  }

  K.portraitVerdict = function (p, ui) {
    var wrap = h('div', { class: 'verdict-block' });
    var ok = p.status === 'captured';
    var first = p.reasons && p.reasons[0];
    var sentence = ok ? tt('portrait.accepted') : first ? (t('reason.' + first.code) || tt('portrait.rejected')) : tt('portrait.rejected');
    wrap.appendChild(h('div', { class: 'verdict ' + (ok ? 'good' : 'bad'), 'data-testid': 'portrait-verdict', 'data-verdict': ok ? 'accept' : 'reject', text: sentence }));
    var checks = p.checks || [];
    var d = decisive(checks);
    if (d) wrap.appendChild(h('div', { class: 'decisive', 'data-testid': 'portrait-gauge' }, checkRow(d)));
    if (!ok && p.reasons && p.reasons.length > 1) {
      wrap.appendChild(h('ul', { 'data-testid': 'portrait-reasons' }, p.reasons.slice(1).map(function (r) { return h('li', { 'data-code': r.code, text: t('reason.' + r.code) || tt('portrait.rejected') }); })));
    } else if (!ok && first) {
      wrap.appendChild(h('ul', { class: 'sr', 'data-testid': 'portrait-reasons' }, h('li', { 'data-code': first.code, text: t('reason.' + first.code) || tt('portrait.rejected') })));
    }
    if (checks.length) {
      var open = !!ui.portraitDetails;
      wrap.appendChild(btn(tt(open ? 'details.hide' : 'details.show'), function () { ui.portraitDetails = !open; K.rerender(); }, 'link', 'portrait-details-toggle'));
      if (open) wrap.appendChild(h('div', { class: 'checks', 'data-testid': 'metrics' }, checks.map(checkRow)));
    }
    return wrap;
  };

  K.step('portrait', function (s, ctx) {
    var ui = ctx.ui;
    var p = s.portrait;
    var left = h('div', { class: 'pic portrait-pic' });
    if (p.status === 'captured' || p.status === 'rejected') {
      var img = h('img', { class: 'portrait', alt: tt('portrait.alt'), 'data-testid': 'portrait-preview' });
      K.preview(img, '/api/preview/portrait', JSON.stringify(p.metrics));
      left.appendChild(img);
    }
    var down = K.deviceDown('camera');
    if (p.status === 'pending' || p.status === 'rejected') {
      var live = h('div', { class: 'live-wrap' }, h('div', { class: 'live-label', text: tt('portrait.live') }));
      // no picture until a frame arrives (a waiting text, not a black box), and a plain "no picture" when frames fail
      var noFrame = down || ui.liveFailed !== false;
      var liveImg = h('img', { class: 'live' + (noFrame ? ' hidden' : ''), alt: tt('portrait.live'), 'data-testid': 'portrait-live' });
      if (liveUrl && !noFrame) liveImg.src = liveUrl;
      live.appendChild(liveImg);
      live.appendChild(h('div', { class: 'pic-empty live' + (noFrame ? '' : ' hidden'), 'data-testid': 'portrait-live-none', 'data-failed': String(!!(down || ui.liveFailed)), text: tt(down || ui.liveFailed ? 'portrait.noLive' : 'portrait.liveWaiting') }));
      if (!down) startLive();
      left.appendChild(live);
    }
    var info = h('div', { class: 'portrait-info' });
    if (p.status === 'captured' || p.status === 'rejected') info.appendChild(K.portraitVerdict(p, ui));
    if (p.status === 'pending') info.appendChild(h('p', { class: 'small', text: tt('portrait.howto') }));
    if (p.status === 'exception') info.appendChild(h('div', { class: 'verdict', 'data-testid': 'portrait-exception-text' }, tt('exc.' + p.exception.code) + ': ', K.raw(p.exception.reason)));
    info.appendChild(ctx.slot('verdict'));
    if (p.status !== 'exception') info.appendChild(h('div', { class: 'row-actions' }, btn(tt('portrait.exception'), function () { K.openException('portrait', null, ''); }, '', 'portrait-exception')));
    var body = h('div', null,
      down && p.status !== 'exception' && p.status !== 'captured' ? K.deviceDownBanner(down, 'portrait.deviceDown', function () { K.openException('portrait', null, 'device_failure'); }) : null,
      h('div', { class: 'portrait-row' }, left, info));
    var ready = p.status === 'captured' || p.status === 'exception';
    return {
      title: tt('portrait.title'),
      body: body,
      actions: [
        btn(p.status === 'pending' ? tt('portrait.capture') : tt('portrait.retake'), function () { K.act('/api/session/portrait/capture'); }, ready || down ? 'big' : 'primary big', 'portrait-capture'),
        btn(tt('next'), function () { K.act('/api/session/next'); }, ready ? 'primary big' : 'big', 'next', !ready),
      ],
    };
  });

  // Live camera view on the portrait step: one frame at a time, about once a second.
  var liveRunning = false;
  var liveUrl = null;
  function startLive() {
    if (liveRunning) return;
    liveRunning = true;
    var tick = function () {
      var el = document.querySelector('[data-testid="portrait-live"]');
      var st = K.state();
      var s = st && st.session;
      if (!el || !K.token() || !s || s.step !== 'portrait' || s.busy) { liveRunning = false; return; }
      K.blob('/api/preview/camera-live').then(function (b) {
        var now = document.querySelector('[data-testid="portrait-live"]');
        var none = document.querySelector('[data-testid="portrait-live-none"]');
        var ui = K.ui();
        ui.liveFailed = !b;
        if (now) {
          if (b) {
            if (liveUrl) URL.revokeObjectURL(liveUrl);
            liveUrl = URL.createObjectURL(b);
            now.src = liveUrl;
          } else now.removeAttribute('src');
          now.classList.toggle('hidden', !b);
          if (none) {
            none.classList.toggle('hidden', !!b);
            none.textContent = K.tt(b ? 'portrait.liveWaiting' : 'portrait.noLive');
            none.setAttribute('data-failed', String(!b));
          }
        }
        setTimeout(tick, 1000);
      });
    };
    setTimeout(tick, 0);
  }
})(window.Kiosk);
