/* Chip (e-ID activation). How the chip is opened, chosen by the officer:
 *   - the CAN (default): the six digits printed on the front of a chip ID card,
 *     typed on a large on-screen keypad (no OS keyboard), shown as two groups
 *     of three; a wrong CAN is one message, next to the keypad, with the tries
 *     the chip still allows;
 *   - the MRZ information: document number and dates typed DD/MM/YYYY,
 *     pre-filled from the details and kept as corrected (passports, older cards).
 * Then the passive-authentication verdict in plain words with what to do, the
 * chip's face and its fields, each marked "read from chip". The same entry is
 * offered at the details step (steps/details.js) to pre-fill the form. A card
 * without a chip or with a dead chip goes to the exception (a second officer
 * co-signs it: steps/override.js). */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, t = K.t, btn = K.btn;

  var CHIP_FIELDS = ['lastName', 'firstName', 'documentNumber', 'birthDate', 'expirationDate', 'sex', 'nationality', 'issuingState'];
  /** DG13 (Vietnamese citizen card) values shown above DG1's, keyed like the details form. */
  var DG13_FIELDS = ['fullName', 'nationalId', 'placeOfOrigin', 'address'];
  K.CHIP_FIELDS = CHIP_FIELDS;
  var CAN_LEN = 6;
  /** Errors of the card rather than of the reader: the exception is "cannot be read", not "device failure". */
  var CARD_SIDE = { CARD_NOT_EMRTD: true, CARD_NO_CARD: true, CARD_TIMEOUT: true, CARD_READ_FAILED: true, CARD_BAD_DATA: true, CARD_PACE_BLOCKED: true, CARD_PACE_SUSPENDED: true, CARD_PACE_FAILED: true, CARD_SM_FAILED: true, CARD_ACCESS_DENIED: true };
  K.chipExceptionCode = function (code) { return CARD_SIDE[code] ? 'unable' : 'device_failure'; };

  /** A chip field's value as words: dates DD/MM/YYYY, sex and countries by name. */
  K.chipValue = function (k, v) {
    if (v === null || v === undefined || v === '') return null;
    if (k === 'birthDate') return K.yymmddToDmy(v, 'birth');
    if (k === 'expirationDate' || k === 'expiryDate') return K.yymmddToDmy(v, 'expiry');
    if (k === 'sex') return { male: tt('sex.M'), female: tt('sex.F'), M: tt('sex.M'), F: tt('sex.F') }[v] || tt('sex.X');
    if (k === 'nationality' || k === 'issuingState') return K.countryName(String(v).replace(/</g, ''));
    return String(v);
  };
  var WORDS = { sex: true, nationality: true, issuingState: true };

  /** The small "read from chip" mark beside a value that came from the chip. */
  K.fromChipMark = function (field) { return h('span', { class: 'from-chip', 'data-testid': 'from-chip-' + field, text: tt('chip.fromChip') }); };

  /**
   * The officer's entry: mode ('can' | 'mrz'), the CAN's digits, the MRZ fields.
   * At the details step the MRZ fields start from what the form holds.
   */
  function entryState(s, ui) {
    if (!ui.chipEntry) {
      var d = s.details || s.draftDetails || {};
      var f = ui.form || {};
      var nat = f.nationality || d.nationality;
      ui.chipEntry = {
        // every chip ID card has PACE with its CAN; a foreign passport is likelier to have only the MRZ (BAC)
        mode: nat && nat !== 'VNM' && nat !== '*' ? 'mrz' : 'can',
        can: '',
        doc: f.documentNumber || d.documentNumber || '',
        birth: f.dateOfBirth || K.fmtDate(d.dateOfBirth),
        expiry: f.documentExpiry || K.fmtDate(d.documentExpiry),
      };
    }
    return ui.chipEntry;
  }

  /** "123456" → "123 456" (partial input grouped the same way). */
  function grouped(digits) { return digits.length > 3 ? digits.slice(0, 3) + ' ' + digits.slice(3) : digits; }

  K.readChip = function () {
    var st = K.state();
    var ui = K.ui();
    var s = st && st.session;
    var none = Promise.resolve(null);
    if (!s) return none;
    var e = entryState(s, ui);
    if (e.mode === 'can') {
      ui.chipError = e.can.length !== CAN_LEN ? 'chip.error.can' : null;
      if (ui.chipError) { K.rerender(); return none; }
      return K.act('/api/session/chip/read', { can: e.can }).then(function (r) {
        // a refused CAN is typed again from the start
        var now = K.state() && K.state().session;
        var le = now && now.lastError;
        if (le && le.op === 'chip' && le.password === 'CAN') { e.can = ''; K.rerender(); }
        return r;
      });
    }
    var b = K.dmyToYymmdd(e.birth), x = K.dmyToYymmdd(e.expiry);
    ui.chipError = !e.doc.trim() ? 'chip.error.doc' : !b ? 'chip.error.birth' : !x ? 'chip.error.expiry' : null;
    if (ui.chipError) { K.rerender(); return none; }
    return K.act('/api/session/chip/read', { documentNumber: e.doc.trim().toUpperCase(), birthDate: b, expiryDate: x });
  };

  /** A refused password (or a blocked chip) in the officer's words: which password, the tries left, what to do. */
  K.chipAccessError = function (le) {
    if (!le || le.op !== 'chip') return null;
    var pw = le.password === 'MRZ' ? 'MRZ' : 'CAN';
    var blocked = { key: 'chip.denied.blocked.' + pw, hint: 'chip.denied.blocked.' + pw + '.todo', blocked: true };
    if (le.code === 'CARD_PACE_BLOCKED') return blocked;
    // The MRZ is suspended (one try left): only the CAN opens the chip now.
    if (le.code === 'CARD_PACE_SUSPENDED') return { key: 'chip.denied.suspended', hint: 'chip.denied.suspended.todo', suspended: true };
    if (le.code !== 'CARD_ACCESS_DENIED' || !le.password) return null;
    var n = le.attemptsLeft;
    if (n === 0) return blocked;
    if (n === 1) return { key: 'chip.denied.' + pw + '.last', hint: 'chip.denied.' + pw + '.todo' };
    if (typeof n === 'number') return { key: 'chip.denied.' + pw + '.left', params: { n: n }, hint: 'chip.denied.' + pw + '.todo' };
    return { key: 'chip.denied.' + pw, hint: 'chip.denied.' + pw + '.todo' };
  };

  function keypad(e, ui) {
    var pad = h('div', { class: 'keypad can-keypad', 'data-testid': 'can-keypad', role: 'group', 'aria-label': tt('chip.can.keypad') });
    ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', '⌫'].forEach(function (k) {
      pad.appendChild(h('button', {
        type: 'button', class: 'key' + (k === 'C' ? ' key-word' : ''), 'data-key': k, 'aria-label': k === 'C' ? tt('keypad.clear') : k === '⌫' ? tt('keypad.back') : k, text: k === 'C' ? tt('keypad.clearShort') : k,
        onclick: function () {
          if (k === 'C') e.can = '';
          else if (k === '⌫') e.can = e.can.slice(0, -1);
          else if (e.can.length < CAN_LEN) e.can += k;
          ui.chipError = null;
          K.rerender();
        },
      }));
    });
    return pad;
  }

  /**
   * The entry (mode choice, CAN keypad or MRZ fields). Returns { node, ownsError }: a refused
   * CAN is shown here, beside the keypad, instead of the banner above the step.
   */
  K.chipEntry = function (s, ui, where) {
    var e = entryState(s, ui);
    var le = s.lastError && s.lastError.op === 'chip' ? s.lastError : null;
    var denied = K.chipAccessError(le);
    // A suspended MRZ: only the CAN opens the chip now, so its keypad comes up (once; the officer may still choose the MRZ).
    if (denied && denied.suspended) { if (!e.suspendSwitched) { e.suspendSwitched = true; e.mode = 'can'; } } else e.suspendSwitched = false;
    var modes = h('div', { class: 'choices chip-modes', role: 'radiogroup', 'aria-label': tt('chip.mode'), 'data-testid': 'chip-mode' });
    ['can', 'mrz'].forEach(function (m) {
      modes.appendChild(h('button', {
        type: 'button', role: 'radio', 'aria-checked': String(e.mode === m), class: 'choice' + (e.mode === m ? ' on' : ''), 'data-testid': 'chip-mode-' + m,
        onclick: function () { e.mode = m; ui.chipError = null; K.rerender(); },
      }, tt('chip.mode.' + m)));
    });
    var inputError = ui.chipError ? h('div', { class: 'field-error', role: 'alert', 'data-testid': 'chip-input-error', 'data-error': 'chip-input', text: tt(ui.chipError) }) : null;
    if (e.mode === 'can') {
      var shown = h('input', {
        id: 'chip-can', class: 'can-display', 'data-testid': 'chip-can', value: grouped(e.can), inputmode: 'none', autocomplete: 'off', maxlength: 7,
        'aria-label': tt('chip.can.label'), placeholder: '––– –––',
        oninput: function () { e.can = shown.value.replace(/\D/g, '').slice(0, CAN_LEN); ui.chipError = null; shown.value = grouped(e.can); },
        onkeydown: function (ev) { if (ev.key === 'Enter') { ev.preventDefault(); K.readChip(); } },
      });
      var msg = null;
      var ownsError = !!(denied && le.password === 'CAN' && !denied.blocked);
      if (ownsError) {
        msg = h('div', { class: 'can-error', role: 'alert', 'data-testid': 'chip-can-error', 'data-code': le.code, 'data-attempts-left': le.attemptsLeft === undefined ? null : String(le.attemptsLeft), 'data-error': 'chip-can' },
          h('div', { class: 'error-text', text: tt(denied.key, denied.params) }), h('div', { class: 'hint', text: tt(denied.hint) }));
      }
      var left = h('div', { class: 'can-left' }, modes,
        h('label', { class: 'f', for: 'chip-can', text: tt('chip.can.label') }), shown,
        msg || inputError || h('div', { class: 'hint', text: tt('chip.can.where') }));
      return { node: h('div', { class: 'chip-entry can-entry', 'data-testid': 'chip-entry', 'data-mode': 'can', 'data-where': where }, left, keypad(e, ui)), ownsError: ownsError };
    }
    var doc = h('input', { id: 'chip-doc', value: e.doc, autocomplete: 'off', autocapitalize: 'characters', 'data-testid': 'chip-doc', oninput: function () { e.doc = doc.value; } });
    var birth = K.dateInput({ id: 'chip-birth', value: e.birth, 'data-testid': 'chip-birth' });
    birth.addEventListener('input', function () { e.birth = birth.value; });
    var expiry = K.dateInput({ id: 'chip-expiry', value: e.expiry, 'data-testid': 'chip-expiry' });
    expiry.addEventListener('input', function () { e.expiry = expiry.value; });
    var inputs = h('div', { class: 'grid3' },
      h('div', null, h('label', { class: 'f', for: 'chip-doc', text: tt('chip.documentNumber') }), doc),
      h('div', null, h('label', { class: 'f', for: 'chip-birth', text: tt('chip.birthDate') }), birth),
      h('div', null, h('label', { class: 'f', for: 'chip-expiry', text: tt('chip.expiryDate') }), expiry));
    return { node: h('div', { class: 'chip-entry mrz-entry', 'data-testid': 'chip-entry', 'data-mode': 'mrz', 'data-where': where }, modes, inputs, inputError), ownsError: false };
  };

  K.paVerdict = function (pa) {
    var cls = pa.status === 'valid' ? 'good' : pa.status === 'invalid' ? 'bad' : 'warn'; // not-checkable: amber, not red
    var why = pa.reasonCode && t('pa.reason.' + pa.reasonCode);
    return h('div', { class: 'verdict-block' },
      h('div', { class: 'verdict ' + cls, 'data-testid': 'chip-verdict', 'data-status': pa.status, text: tt('chip.pa.' + pa.status) }),
      why ? h('div', { 'data-testid': 'chip-verdict-why', text: why }) : null,
      h('div', { class: 'hint', text: tt('chip.pa.' + pa.status + '.todo') }),
      pa.reason ? K.techDetails(pa.reason) : null);
  };

  /** The chip's fields: DG13's (name with diacritics, 12-digit ID, places) first, then DG1's; each marked "read from chip". */
  K.chipFieldsTable = function (c) {
    var tb = h('table', { class: 'kv', 'data-testid': 'chip-fields' });
    var fc = c.fromChip || {};
    var m = c.mrzFields || {};
    var row = function (k, label, v, words) {
      tb.appendChild(h('tr', { 'data-field': k }, h('td', { text: label }), h('td', null, v === null ? tt('none') : words ? v : K.raw(v)), h('td', null, K.fromChipMark(k))));
    };
    var extra = {
      fullName: /[^\x00-\x7F]/.test(fc.fullName || ''), // DG13's name; DG1's is the unaccented one below
      nationalId: !!fc.nationalId && fc.nationalId !== m.documentNumber,
      placeOfOrigin: !!fc.placeOfOrigin, address: !!fc.address,
    };
    DG13_FIELDS.forEach(function (k) { if (extra[k]) row(k, tt('field.' + k), fc[k], false); });
    CHIP_FIELDS.forEach(function (k) {
      if (!(k in m)) return;
      row(k, tt('chipField.' + k), K.chipValue(k, m[k]), WORDS[k]);
    });
    return tb;
  };

  /** How the chip was opened: with the CAN or the MRZ information. */
  K.chipAccessLine = function (c) {
    if (!c || !c.access) return null;
    return h('div', { class: 'small', 'data-testid': 'chip-access', 'data-protocol': c.access.protocol, 'data-password': c.access.password, text: tt('chip.access.' + c.access.password) });
  };

  K.step('chip', function (s, ctx) {
    var ui = ctx.ui;
    var c = s.chip || { status: 'pending' };
    var body = h('div', null);
    var down = K.deviceDown('card');
    if (down && c.status !== 'exception' && c.status !== 'read') body.appendChild(K.deviceDownBanner(down, 'chip.deviceDown', function () { K.openException('chip', null, 'device_failure'); }));
    body.appendChild(ctx.slot('entry'));
    var en = K.chipEntry(s, ui, 'chip');
    body.appendChild(en.node);
    var le = s.lastError && s.lastError.op === 'chip' ? s.lastError : null;
    if (le && CARD_SIDE[le.code] && le.code !== 'CARD_ACCESS_DENIED') body.appendChild(h('p', { class: 'hint', 'data-testid': 'chip-dead-hint', text: tt('chip.deadChip') }));
    if (c.passiveAuth) {
      body.appendChild(K.paVerdict(c.passiveAuth));
      body.appendChild(K.chipAccessLine(c));
      var face = h('img', { class: 'portrait small-portrait', alt: tt('chip.faceAlt'), 'data-testid': 'chip-face' });
      if (c.hasFace) K.preview(face, '/api/preview/chip-face', JSON.stringify(c.mrzFields));
      body.appendChild(h('div', { class: 'row' }, c.hasFace ? face : null, K.chipFieldsTable(c)));
    }
    body.appendChild(ctx.slot('result'));
    if (c.exception) body.appendChild(h('div', { class: 'verdict', 'data-testid': 'chip-exception-text' }, tt('exc.' + c.exception.code) + ': ', K.raw(c.exception.reason)));
    if (c.status !== 'exception') {
      body.appendChild(h('div', { class: 'row-actions' }, btn(tt('chip.exception'), function () { K.openException('chip', null, le ? K.chipExceptionCode(le.code) : ''); }, '', 'chip-exception')));
      body.appendChild(h('p', { class: 'hint small', text: tt('chip.noChip') }));
    }
    // a refused chip may go on once a second officer has co-signed every refusal of this step (steps/override.js)
    var cosigned = c.status === 'rejected' && (s.blockers || []).every(function (b) { return b.step !== 'chip' || !!b.cosigned; });
    var ready = c.status === 'read' || c.status === 'exception' || cosigned;
    return {
      title: tt('chip.title'),
      body: body,
      ownsError: en.ownsError,
      actions: [
        btn(c.status === 'pending' ? tt('chip.read') : tt('chip.reread'), K.readChip, ready ? 'big' : 'primary big', 'chip-read'),
        btn(tt('next'), function () { K.act('/api/session/next'); }, ready ? 'primary big' : 'big', 'next', !ready),
      ],
    };
  });
})(window.Kiosk);
