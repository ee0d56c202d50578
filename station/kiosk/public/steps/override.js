/* Second-officer override (#14 items 2-3). The refusals a second officer may
 * co-sign (state.session.blockers: a chip that did not pass passive
 * authentication, a chip whose DG1 differs from the details) are shown where
 * they stop the officer — the chip step and review — in words, a mismatch field
 * by field (entered vs chip). "A second officer co-signs" opens a dialog where
 * ANOTHER officer enters their id, their PIN (on-screen keypad) and why; the
 * station checks it like a login (counted, lockout) without logging them in.
 * Panels and a dialog only: the step files are not touched. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, t = K.t, btn = K.btn;

  var FIELDS = ['fullName', 'dateOfBirth', 'sex', 'documentNumber'];

  /** A compared value as the officer reads it: dates DD/MM/YYYY, sex in words, the rest as data. */
  function shown(field, v, fromChip) {
    if (v === null || v === undefined || v === '') return tt('override.notOnChip');
    if (field === 'sex') return t('sex.' + v) || K.raw(v);
    if (field === 'dateOfBirth') return K.raw(fromChip ? (K.yymmddToDmy(v, 'birth') || v) : (K.fmtDate(v) || v));
    return K.raw(v);
  }

  function what(b) {
    if (b.kind === 'chip-authenticity') return t('pa.reason.' + b.code) || tt('override.kind.chip-authenticity');
    if (b.kind === 'finger-exception') return tt('override.kind.finger-exception', { fingers: (b.positions || []).map(function (p) { return tt('finger.' + p); }).join(', ') });
    if (b.kind === 'person-repeat' && b.repeat) return tt('override.kind.person-repeat', { when: K.fmtTime(b.repeat.enrolledAt), ref: b.repeat.recordRef });
    return tt('override.kind.' + b.kind);
  }

  function mismatchTable(b) {
    var tb = h('table', { class: 'kv', 'data-testid': 'mismatch-fields' },
      h('tr', null, h('td', null), h('td', { text: tt('override.entered') }), h('td', { text: tt('override.onChip') })));
    (b.fields || []).forEach(function (f) {
      if (FIELDS.indexOf(f.field) < 0) return;
      tb.appendChild(h('tr', { 'data-field': f.field },
        h('td', { text: tt('override.field.' + f.field) }),
        h('td', { 'data-side': 'entered' }, shown(f.field, f.entered, false)),
        h('td', { 'data-side': 'chip' }, shown(f.field, f.chip, true))));
    });
    return tb;
  }

  function block(b) {
    var done = b.cosigned;
    return h('div', { class: 'banner ' + (done ? 'ok' : 'err'), 'data-testid': 'blocker-' + b.kind, 'data-cosigned': String(!!done), role: done ? 'status' : 'alert' },
      h('h2', { text: tt(done ? 'override.done.' + b.kind : 'override.title.' + b.kind) }),
      h('div', { 'data-testid': 'blocker-why', text: what(b) }),
      b.fields ? mismatchTable(b) : null,
      done
        ? h('p', { 'data-testid': 'cosigned-by' }, tt('override.by') + ': ', K.raw(done.officerId), ' · ', K.fmtTime(done.at), ' — ', K.raw(done.reason))
        : h('p', { class: 'hint', text: tt('override.todo.' + b.kind) }),
      done ? null : h('div', { class: 'row-actions' }, btn(tt('override.open'), function () { K.openOverride(b.kind); }, '', 'override-' + b.kind)));
  }

  function blockers(s, kinds) {
    return ((s && s.blockers) || []).filter(function (b) { return kinds.indexOf(b.kind) >= 0; });
  }

  // the chip step: both refusals appear as soon as the chip is read (and a chip recorded as not readable)
  K.panel('chip', { id: 'override', slot: 'result', order: 10, render: function (s) {
    var list = blockers(s, ['chip-authenticity', 'chip-details-mismatch', 'chip-exception']);
    return list.length ? h('div', { 'data-testid': 'blockers' }, list.map(block)) : null;
  } });
  /** One line (a 480-px screen has no room for more): what needs a second officer, and the button — or who co-signed. */
  function compact(b) {
    var done = b.cosigned;
    return h('div', { class: 'banner ' + (done ? 'ok' : 'warn'), 'data-testid': 'blocker-' + b.kind, 'data-cosigned': String(!!done), role: 'status' },
      h('div', { class: 'row-actions' },
        h('span', null, h('strong', { text: tt(done ? 'override.done.' + b.kind : 'override.title.' + b.kind) }), ' — ', done ? K.raw(done.officerId) : what(b)),
        done ? null : btn(tt('override.open'), function () { K.openOverride(b.kind); }, 'primary', 'override-' + b.kind)));
  }
  // exceptions and a person already enrolled (#22): at the top of the step they stop — the fingers' once
  // every finger is done (while capturing, the officer needs the screen for the fingers)
  [['details', 'person-repeat'], ['fingerprints', 'finger-exception'], ['portrait', 'portrait-exception']].forEach(function (x) {
    K.panel(x[0], { id: 'override', slot: 'top', order: 10, render: function (s) {
      if (x[0] === 'fingerprints' && !s.fingers.every(function (f) { return f.status === 'captured' || f.status === 'exception'; })) return null;
      var list = blockers(s, [x[1]]);
      return list.length ? h('div', { 'data-testid': 'blockers' }, list.map(x[0] === 'details' ? block : compact)) : null;
    } });
  });
  // review: everything that stops confirm, and what was co-signed
  K.panel('review', { id: 'override', slot: 'end', order: 10, render: function (s) {
    var list = blockers(s, ['person-repeat', 'finger-exception', 'portrait-exception', 'chip-authenticity', 'chip-exception', 'chip-details-mismatch']);
    return list.length ? h('div', { 'data-testid': 'blockers' }, h('h2', { text: tt('override.review') }), list.map(block)) : null;
  } });

  // ───────────── the dialog ─────────────
  K.openOverride = function (kind) {
    var ui = K.ui();
    ui.ovr = { kind: kind, id: '', pin: '', reason: '', field: 'id', error: null };
    K.openDialog('override', { kind: kind });
  };

  function causeText(e) {
    var d = e.details || {};
    if (e.code === 'OVERRIDE_REFUSED') {
      if (d.cause === 'OFFICER_BAD_CREDENTIALS' && typeof d.remaining === 'number' && d.remaining > 0) return { text: tt('override.cause.bad', { n: d.remaining }) };
      if (d.cause === 'OFFICER_LOCKED' && d.until) return { text: tt('override.cause.lockedUntil', { until: K.fmtWhen(d.until) }) };
      if (d.cause === 'OFFICER_RATE_LIMITED') return { text: tt('login.error.OFFICER_RATE_LIMITED', { s: Math.max(1, Math.ceil((d.retryAfterMs || 1000) / 1000)) }) };
      var c = d.cause && t('override.cause.' + d.cause);
      if (c) return { text: c, hint: tt('hint.OVERRIDE_REFUSED') };
    }
    var loc = K.errText(e);
    return { text: loc.text, hint: loc.hint };
  }

  function submit(x) {
    x.error = null;
    if (!x.id.trim()) { x.error = { text: tt('input.override_no_id') }; x.field = 'id'; K.rerender(); return; }
    if (!x.pin) { x.error = { text: tt('input.override_no_pin') }; x.field = 'pin'; K.rerender(); return; }
    if (x.reason.trim().length < 3) { x.error = { text: tt('input.reason_required') }; K.rerender(); return; }
    var body = { kind: x.kind, officerId: x.id.trim(), pin: x.pin, reason: x.reason };
    x.pin = ''; // never kept past one try
    K.act('/api/session/override', body, { quiet: true }).then(function (r) {
      if (r.status === 200) { K.ui().ovr = null; K.closeDialog(); K.announce(tt('override.done.' + x.kind)); return; }
      x.error = causeText((r.body && r.body.error) || {});
      K.rerender();
    });
  }

  function keypad(x, numericId) {
    var pad = h('div', { class: 'keypad', 'data-testid': 'override-keypad' });
    ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', '⌫'].forEach(function (k) {
      pad.appendChild(h('button', {
        type: 'button', class: 'key' + (k === 'C' ? ' key-word' : ''), 'data-key': k, 'aria-label': k === 'C' ? tt('keypad.clear') : k === '⌫' ? tt('keypad.back') : k, text: k === 'C' ? tt('keypad.clearShort') : k,
        onclick: function () {
          var f = numericId && x.field === 'id' ? 'id' : 'pin';
          var el = document.getElementById(f === 'id' ? 'ovr-id' : 'ovr-pin');
          var v = el.value;
          if (k === 'C') v = '';
          else if (k === '⌫') v = v.slice(0, -1);
          else if (v.length < (f === 'id' ? 32 : 16)) v += k;
          el.value = v;
          x[f] = v;
        },
      }));
    });
    return pad;
  }

  K.dialog('override', function (p, ctx) {
    var x = ctx.ui.ovr || (ctx.ui.ovr = { kind: p.kind, id: '', pin: '', reason: '', field: 'id', error: null });
    var s = ctx.state && ctx.state.session;
    var b = blockers(s, [p.kind])[0];
    var numericId = !!(ctx.hello && ctx.hello.officerIdNumeric === true);
    var id = h('input', {
      id: 'ovr-id', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', 'data-testid': 'override-id', value: x.id, autofocus: true,
      inputmode: numericId ? 'numeric' : 'text', class: x.field === 'id' && numericId ? 'target' : '',
      oninput: function () { x.id = id.value; }, onfocus: function () { x.field = 'id'; mark(); },
    });
    var pin = h('input', {
      id: 'ovr-pin', type: 'password', inputmode: 'numeric', autocomplete: 'off', 'data-testid': 'override-pin', value: x.pin, class: x.field === 'pin' ? 'target' : '',
      oninput: function () { x.pin = pin.value; }, onfocus: function () { x.field = 'pin'; mark(); },
    });
    function mark() { id.classList.toggle('target', numericId && x.field === 'id'); pin.classList.toggle('target', x.field === 'pin'); }
    var reason = h('textarea', { id: 'ovr-reason', rows: 2, maxlength: 300, 'data-testid': 'override-reason', oninput: function () { x.reason = reason.value; } });
    reason.value = x.reason;
    var err = x.error
      ? h('div', { class: 'banner err', role: 'alert', 'data-testid': 'override-error', 'data-error': 'override' }, h('div', { class: 'error-text', text: x.error.text }), x.error.hint ? h('div', { class: 'hint', text: x.error.hint }) : null)
      : null;
    return {
      title: tt('override.dialog.title'), testid: 'override-dialog',
      body: h('div', null,
        err,
        b ? h('p', { 'data-testid': 'override-what' }, h('strong', { text: tt('override.title.' + b.kind) }), ' — ', what(b)) : null,
        h('p', { class: 'hint', text: tt('override.dialog.lead') }),
        h('div', { class: 'login-cols' },
          h('div', { class: 'login-fields' },
            h('label', { class: 'f', for: 'ovr-id', text: tt('override.officerId') }), id,
            h('label', { class: 'f', for: 'ovr-pin', text: tt('override.pin') }), pin,
            h('label', { class: 'f', for: 'ovr-reason', text: tt('override.reason') }), reason),
          keypad(x, numericId))),
      actions: [
        btn(tt('cancel'), function () { ctx.ui.ovr = null; K.closeDialog(); }, '', 'override-cancel'),
        btn(tt('override.sign'), function () { x.id = id.value; x.pin = pin.value; x.reason = reason.value; submit(x); }, 'primary', 'override-sign'),
      ],
    };
  });
})(window.Kiosk);
