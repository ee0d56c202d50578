/* Login: officer id and PIN, an on-screen keypad (for the id too when every
 * officer id is numeric), attempts left after a wrong PIN, and when a locked
 * account opens again and who can open it sooner. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, t = K.t, btn = K.btn;
  var form = { id: '', pin: '', field: 'pin', error: null };

  function loginError(e) {
    var d = e.details || {};
    if (e.code === 'OFFICER_BAD_CREDENTIALS') {
      return typeof d.remaining === 'number' && d.remaining > 0
        ? { text: tt(d.remaining === 1 ? 'login.error.badOne' : 'login.error.bad', { n: d.remaining }), warn: d.remaining <= 2 }
        : { text: tt('login.error.OFFICER_BAD_CREDENTIALS') };
    }
    if (e.code === 'OFFICER_LOCKED') {
      var until = d.until ? K.fmtWhen(d.until) : '';
      var who = d.unlockBy && t('login.unlockBy.' + d.unlockBy) || tt('login.unlockBy.default');
      return { text: until ? tt('login.error.lockedUntil', { until: until }) : tt('login.error.OFFICER_LOCKED'), hint: who };
    }
    if (e.code === 'OFFICER_RATE_LIMITED') return { text: tt('login.error.OFFICER_RATE_LIMITED', { s: Math.max(1, Math.ceil((d.retryAfterMs || 1000) / 1000)) }) };
    var loc = K.errText(e);
    return { text: t('login.error.' + e.code) || loc.text, hint: t('login.error.' + e.code) ? null : loc.hint };
  }

  function submit() {
    form.error = null;
    if (!form.id.trim()) { form.error = { text: tt('input.login_no_id') }; form.field = 'id'; K.rerender(); return; }
    if (!form.pin) { form.error = { text: tt('input.login_no_pin') }; form.field = 'pin'; K.rerender(); return; }
    var id = form.id.trim(), pin = form.pin;
    form.pin = '';
    K.api('POST', '/api/login', { officerId: id, pin: pin }).then(function (r) {
      if (r.status === 200) { form.id = ''; form.error = null; K.loggedIn(r.body); return; }
      form.error = loginError(r.body.error || {});
      K.rerender();
    });
  }

  function keypad(numericId) {
    var pad = h('div', { class: 'keypad', 'data-testid': 'keypad' });
    ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', '⌫'].forEach(function (k) {
      pad.appendChild(h('button', {
        type: 'button', class: 'key' + (k === 'C' ? ' key-word' : ''), 'data-key': k, 'aria-label': k === 'C' ? tt('keypad.clear') : k === '⌫' ? tt('keypad.back') : k, text: k === 'C' ? tt('keypad.clearShort') : k,
        onclick: function () {
          var f = numericId && form.field === 'id' ? 'id' : 'pin';
          var el = document.getElementById(f === 'id' ? 'login-id' : 'login-pin');
          var v = el.value;
          if (k === 'C') v = '';
          else if (k === '⌫') v = v.slice(0, -1);
          else if (v.length < (f === 'id' ? 32 : 12)) v += k;
          el.value = v;
          form[f] = v;
        },
      }));
    });
    return pad;
  }

  K.step('login', function (s, ctx) {
    var hello = ctx.hello || {};
    var numericId = hello.officerIdNumeric === true;
    var id = h('input', {
      id: 'login-id', name: 'officerId', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', 'data-testid': 'login-id', value: form.id,
      inputmode: numericId ? 'numeric' : 'text', pattern: numericId ? '[0-9]*' : null, class: form.field === 'id' && numericId ? 'target' : '',
      oninput: function () { form.id = id.value; }, onfocus: function () { form.field = 'id'; mark(); },
      onkeydown: function (e) { if (e.key === 'Enter') { e.preventDefault(); document.getElementById('login-pin').focus(); } },
    });
    var pin = h('input', {
      id: 'login-pin', name: 'pin', type: 'password', inputmode: 'numeric', autocomplete: 'off', 'data-testid': 'login-pin', value: form.pin, class: form.field === 'pin' ? 'target' : '',
      oninput: function () { form.pin = pin.value; }, onfocus: function () { form.field = 'pin'; mark(); },
      onkeydown: function (e) { if (e.key === 'Enter') { e.preventDefault(); form.id = id.value; form.pin = pin.value; submit(); } },
    });
    function mark() { id.classList.toggle('target', numericId && form.field === 'id'); pin.classList.toggle('target', form.field === 'pin'); }
    var err = form.error
      ? h('div', { class: 'login-error' + (form.error.warn ? ' warn' : ''), role: 'alert', 'data-testid': 'login-error', 'data-error': 'login' },
        h('div', { text: form.error.text }), form.error.hint ? h('div', { class: 'hint', 'data-testid': 'login-unlock', text: form.error.hint }) : null)
      : h('div', { class: 'login-error empty', 'data-testid': 'login-error' });
    var lost = hello.lostSession ? K.lostNotice(hello.lostSession, false) : null;
    var body = h('div', { class: 'login' },
      lost,
      h('div', { class: 'login-cols' },
        h('div', { class: 'login-fields' },
          h('label', { class: 'f', for: 'login-id', text: tt('login.officerId') }), id,
          h('label', { class: 'f', for: 'login-pin', text: tt('login.pin') }), pin,
          err,
          h('p', { class: 'small', text: tt('login.cardHint') })),
        keypad(numericId)));
    return {
      title: tt('login.title'), body: body,
      actions: [h('button', { type: 'button', class: 'btn primary big', 'data-testid': 'login-submit', text: tt('login.submit'), onclick: function () { form.id = id.value; form.pin = pin.value; submit(); } })],
    };
  });
})(window.Kiosk);
