/* Chip (e-ID activation): what BAC needs (document number, dates typed
 * DD/MM/YYYY, pre-filled from the details and kept as corrected), then the
 * passive-authentication verdict in plain words with what to do, the chip's
 * face and its fields under Vietnamese labels (dates, sex and nationality as
 * words). */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, t = K.t, btn = K.btn;

  var CHIP_FIELDS = ['lastName', 'firstName', 'documentNumber', 'birthDate', 'expirationDate', 'sex', 'nationality', 'issuingState'];
  K.CHIP_FIELDS = CHIP_FIELDS;

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

  function form(s, ui) {
    if (!ui.chipForm) {
      var d = s.details || {};
      ui.chipForm = { doc: d.documentNumber || '', birth: K.fmtDate(d.dateOfBirth), expiry: K.fmtDate(d.documentExpiry) };
    }
    return ui.chipForm;
  }

  K.readChip = function () {
    var st = K.state();
    var ui = K.ui();
    var f = form(st.session, ui);
    var b = K.dmyToYymmdd(f.birth), e = K.dmyToYymmdd(f.expiry);
    ui.chipError = !f.doc.trim() ? 'chip.error.doc' : !b ? 'chip.error.birth' : !e ? 'chip.error.expiry' : null;
    if (ui.chipError) { K.rerender(); return; }
    K.act('/api/session/chip/read', { documentNumber: f.doc.trim().toUpperCase(), birthDate: b, expiryDate: e });
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

  K.step('chip', function (s, ctx) {
    var ui = ctx.ui;
    var c = s.chip || { status: 'pending' };
    var f = form(s, ui);
    var doc = h('input', { id: 'chip-doc', value: f.doc, autocomplete: 'off', autocapitalize: 'characters', 'data-testid': 'chip-doc', oninput: function () { f.doc = doc.value; } });
    var birth = K.dateInput({ id: 'chip-birth', value: f.birth, 'data-testid': 'chip-birth' });
    birth.addEventListener('input', function () { f.birth = birth.value; });
    var expiry = K.dateInput({ id: 'chip-expiry', value: f.expiry, 'data-testid': 'chip-expiry' });
    expiry.addEventListener('input', function () { f.expiry = expiry.value; });
    var inputs = h('div', { class: 'grid3' },
      h('div', null, h('label', { class: 'f', for: 'chip-doc', text: tt('chip.documentNumber') }), doc),
      h('div', null, h('label', { class: 'f', for: 'chip-birth', text: tt('chip.birthDate') }), birth),
      h('div', null, h('label', { class: 'f', for: 'chip-expiry', text: tt('chip.expiryDate') }), expiry));
    var body = h('div', null);
    var down = K.deviceDown('card');
    if (down && c.status !== 'exception' && c.status !== 'read') body.appendChild(K.deviceDownBanner(down, 'chip.deviceDown', function () { K.openException('chip', null, 'device_failure'); }));
    body.appendChild(ctx.slot('entry'));
    body.appendChild(inputs);
    if (ui.chipError) body.appendChild(h('div', { class: 'field-error', role: 'alert', 'data-testid': 'chip-input-error', 'data-error': 'chip-input', text: tt(ui.chipError) }));
    if (c.passiveAuth) {
      body.appendChild(K.paVerdict(c.passiveAuth));
      var face = h('img', { class: 'portrait small-portrait', alt: tt('chip.faceAlt'), 'data-testid': 'chip-face' });
      if (c.hasFace) K.preview(face, '/api/preview/chip-face', JSON.stringify(c.mrzFields));
      var tb = h('table', { class: 'kv', 'data-testid': 'chip-fields' });
      CHIP_FIELDS.forEach(function (k) {
        if (!c.mrzFields || !(k in c.mrzFields)) return;
        var v = K.chipValue(k, c.mrzFields[k]);
        tb.appendChild(h('tr', { 'data-field': k }, h('td', { text: tt('chipField.' + k) }), h('td', null, v === null ? tt('none') : WORDS[k] ? v : K.raw(v))));
      });
      body.appendChild(h('div', { class: 'row' }, c.hasFace ? face : null, tb));
    }
    body.appendChild(ctx.slot('result'));
    if (c.exception) body.appendChild(h('div', { class: 'verdict', 'data-testid': 'chip-exception-text' }, tt('exc.' + c.exception.code) + ': ', K.raw(c.exception.reason)));
    if (c.status !== 'exception') body.appendChild(h('div', { class: 'row-actions' }, btn(tt('chip.exception'), function () { K.openException('chip', null, ''); }, '', 'chip-exception')));
    // a refused chip may go on once a second officer has co-signed every refusal of this step (steps/override.js)
    var cosigned = c.status === 'rejected' && (s.blockers || []).every(function (b) { return b.step !== 'chip' || !!b.cosigned; });
    var ready = c.status === 'read' || c.status === 'exception' || cosigned;
    return {
      title: tt('chip.title'),
      body: body,
      actions: [
        btn(c.status === 'pending' ? tt('chip.read') : tt('chip.reread'), K.readChip, ready ? 'big' : 'primary big', 'chip-read'),
        btn(tt('next'), function () { K.act('/api/session/next'); }, ready ? 'primary big' : 'big', 'next', !ready),
      ],
    };
  });
})(window.Kiosk);
