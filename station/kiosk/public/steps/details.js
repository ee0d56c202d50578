/* Personal details: field by field, dates typed DD/MM/YYYY, nationality as
 * words. After a refused submit the first field to fix is scrolled into view,
 * focused, and read out. For an e-ID activation the officer may read the chip
 * first (CAN or MRZ, the entry of steps/chip.js): the empty fields are filled
 * from it, stay editable, and each is marked "read from chip" while it holds
 * the chip's value. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, t = K.t, btn = K.btn;

  var FIELDS = ['fullName', 'dateOfBirth', 'sex', 'nationalId', 'nationality', 'placeOfOrigin', 'address', 'unitCode', 'phone'];
  var ACT_FIELDS = ['documentNumber', 'documentExpiry'];
  var DATES = { dateOfBirth: true, documentExpiry: true };
  /** Nationalities offered by name (ICAO 9303 codes); any other code can be typed. */
  K.COUNTRIES = ['VNM', 'LAO', 'KHM', 'CHN', 'THA', 'MMR', 'MYS', 'SGP', 'IDN', 'PHL', 'KOR', 'JPN', 'TWN', 'IND', 'AUS', 'USA', 'CAN', 'GBR', 'FRA', 'DEU', 'RUS'];
  K.countryName = function (code) { return code ? (t('country.' + code) || code) : ''; };
  K.DETAIL_FIELDS = FIELDS;
  K.ACT_FIELDS = ACT_FIELDS;

  function initial(s, f) {
    var d = s.draftDetails || s.details || {};
    var st = K.state();
    if (d[f] !== undefined && d[f] !== '') return DATES[f] ? K.fmtDate(d[f]) : d[f];
    return f === 'nationality' ? 'VNM' : f === 'unitCode' ? st.defaultUnit : '';
  }

  function submit(s, ui) {
    var out = {};
    Object.keys(ui.form).forEach(function (k) { out[k] = ui.form[k]; });
    if (out.nationality === '*') out.nationality = ui.form.nationalityOther || '';
    delete out.nationalityOther;
    K.act('/api/session/details', { details: out }).then(function (r) {
      if (r.status !== 422) return;
      var bad = document.querySelector('#body .bad');
      if (bad) { bad.focus({ preventScroll: true }); bad.scrollIntoView({ block: 'center' }); }
    });
  }

  /** The chip's value of a field as the form holds it (dates DD/MM/YYYY). */
  function chipFormValue(f, v) { return DATES[f] ? K.fmtDate(v) : v; }
  function same(a, b) { return String(a || '').normalize('NFC').replace(/\s+/g, ' ').trim().toUpperCase() === String(b || '').normalize('NFC').replace(/\s+/g, ' ').trim().toUpperCase(); }

  /** After a chip read: fill what the form does not hold yet (a typed value is never overwritten; untouched nationality gives way). */
  function mergeChip(s, ui, fields) {
    var fc = s.chip && s.chip.fromChip;
    if (!fc) return;
    var key = JSON.stringify(fc);
    if (ui.chipMerged === key) return;
    ui.chipMerged = key;
    fields.forEach(function (f) {
      if (!fc[f]) return;
      var cur = ui.form[f];
      if (!cur || (f === 'nationality' && !ui.natTouched)) ui.form[f] = chipFormValue(f, fc[f]);
    });
    if (ui.form.nationality && K.COUNTRIES.indexOf(ui.form.nationality) < 0 && ui.form.nationality !== '*') { ui.form.nationalityOther = ui.form.nationality; ui.form.nationality = '*'; }
  }

  /** Does the field still hold what the chip says? */
  function fromChip(s, ui, f) {
    var fc = s.chip && s.chip.fromChip;
    if (!fc || !fc[f]) return false;
    var v = f === 'nationality' && ui.form.nationality === '*' ? ui.form.nationalityOther : ui.form[f];
    return same(v, chipFormValue(f, fc[f]));
  }

  /** Reading the chip before typing (e-ID activation): closed until the officer opens it; the result in one line. */
  function chipPanel(s, ui) {
    var c = s.chip || { status: 'pending' };
    var read = !!c.passiveAuth;
    if (!ui.chipOpen) {
      return h('div', { class: 'chip-first', 'data-testid': 'details-chip' },
        read ? K.paVerdict(c.passiveAuth) : h('p', { class: 'hint', text: tt('details.chip.offer') }),
        read ? K.chipAccessLine(c) : null,
        h('div', { class: 'row-actions' }, btn(tt(read ? 'details.chip.again' : 'details.chip.open'), function () { ui.chipOpen = true; K.rerender(); }, read ? '' : 'primary', 'details-chip-open')));
    }
    var en = K.chipEntry(s, ui, 'details');
    return {
      node: h('div', { class: 'chip-first open', 'data-testid': 'details-chip' }, en.node,
        h('div', { class: 'row-actions' },
          btn(tt('chip.read'), function () {
            // closed again once a chip has been read: the verdict shows in the closed panel, the form below is filled
            K.readChip().then(function () {
              var now = K.state() && K.state().session;
              if (now && now.step === 'details' && now.chip && now.chip.passiveAuth && !now.lastError) { ui.chipOpen = false; K.rerender(); }
            });
          }, 'primary', 'details-chip-read'),
          btn(tt('cancel'), function () { ui.chipOpen = false; K.rerender(); }, '', 'details-chip-close'))),
      ownsError: en.ownsError,
    };
  }

  K.step('details', function (s, ctx) {
    var ui = ctx.ui;
    var fields = FIELDS.concat(s.kind === 'eid-activation' ? ACT_FIELDS : []);
    if (!ui.form) {
      ui.form = {};
      fields.forEach(function (f) { ui.form[f] = initial(s, f); });
      if (ui.form.nationality && K.COUNTRIES.indexOf(ui.form.nationality) < 0) { ui.form.nationalityOther = ui.form.nationality; ui.form.nationality = '*'; }
    }
    var panel = null;
    if (s.kind === 'eid-activation') {
      mergeChip(s, ui, fields);
      panel = chipPanel(s, ui);
      if (panel && !panel.node) panel = { node: panel, ownsError: false };
    }
    var errs = {};
    (s.detailErrors || []).forEach(function (e) { if (!errs[e.field]) errs[e.field] = e; });
    var firstBad = fields.filter(function (f) { return errs[f]; })[0];
    var grid = h('div', { class: 'grid2' });
    fields.forEach(function (f) {
      var id = 'f-' + f;
      var input;
      var mark = s.chip && s.chip.fromChip && s.chip.fromChip[f] ? K.fromChipMark(f) : null;
      if (mark && !fromChip(s, ui, f)) mark.classList.add('hidden');
      var set = function (v) { ui.form[f] = v; if (mark) mark.classList.toggle('hidden', !fromChip(s, ui, f)); };
      if (f === 'sex') {
        input = h('select', { id: id, name: f, 'data-testid': id, onchange: function () { set(input.value); } },
          h('option', { value: '', text: tt('choose') }), ['M', 'F', 'X'].map(function (x) { return h('option', { value: x, text: tt('sex.' + x) }); }));
        input.value = ui.form[f] || '';
      } else if (f === 'nationality') {
        input = h('select', { id: id, name: f, 'data-testid': id, onchange: function () { ui.natTouched = true; set(input.value); K.rerender(); } },
          K.COUNTRIES.map(function (c) { return h('option', { value: c, text: tt('country.' + c) }); }), h('option', { value: '*', text: tt('country.other') }));
        input.value = ui.form[f] || 'VNM';
        if (input.value !== ui.form[f] && ui.form[f]) { ui.form.nationalityOther = ui.form[f]; ui.form[f] = '*'; input.value = '*'; }
      } else if (DATES[f]) {
        input = K.dateInput({ id: id, name: f, 'data-testid': id, value: ui.form[f] || '' });
        input.addEventListener('input', function () { set(input.value); });
      } else {
        input = h('input', {
          id: id, name: f, type: 'text', autocomplete: 'off', 'data-testid': id, value: ui.form[f] || '',
          inputmode: (f === 'nationalId' || f === 'phone') ? 'numeric' : undefined, oninput: function () { set(input.value); },
        });
      }
      var e = errs[f];
      if (e) { input.classList.add('bad'); input.setAttribute('aria-invalid', 'true'); input.setAttribute('aria-describedby', 'err-' + f); }
      var cell = h('div', { class: 'field', 'data-field': f }, h('label', { class: 'f', for: id }, tt('field.' + f), mark), input);
      if (f === 'nationality' && ui.form.nationality === '*') {
        var other = h('input', { id: 'f-nationalityOther', 'data-testid': 'f-nationalityOther', maxlength: 3, autocapitalize: 'characters', value: ui.form.nationalityOther || '', placeholder: tt('country.codePlaceholder'), oninput: function () { ui.form.nationalityOther = other.value.toUpperCase(); } });
        cell.appendChild(other);
      }
      cell.appendChild(h('div', {
        id: 'err-' + f, class: 'field-error', 'data-testid': 'err-' + f,
        'data-error': e && f === firstBad ? 'field' : null, 'data-scroll': e && f === firstBad ? '#' + id : null,
        'data-say': e && f === firstBad ? tt('field.' + f) + ': ' + fieldError(e) : null,
        text: e ? fieldError(e) : '',
      }));
      grid.appendChild(cell);
    });
    var n = Object.keys(errs).length;
    var form = h('form', { id: 'details-form', novalidate: true, onsubmit: function (ev) { ev.preventDefault(); submit(s, ui); } }, grid);
    return {
      title: tt('details.title'),
      body: panel ? h('div', null, panel.node, form) : form,
      ownsError: !!(panel && panel.ownsError),
      actions: [
        n ? h('span', { class: 'bar-error', 'data-testid': 'details-invalid', text: tt(n === 1 ? 'details.fixOne' : 'details.fixErrors', { n: n }) }) : null,
        h('button', { type: 'button', class: 'btn primary big', 'data-testid': 'details-submit', text: tt('next'), onclick: function () { submit(s, ui); } }),
      ],
    };
  });

  function fieldError(e) { return t('errors.' + e.code, e.params) || tt('errors.invalid'); }
})(window.Kiosk);
