/* Personal details: field by field, dates typed DD/MM/YYYY, nationality as
 * words. After a refused submit the first field to fix is scrolled into view,
 * focused, and read out. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, t = K.t;

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

  K.step('details', function (s, ctx) {
    var ui = ctx.ui;
    var fields = FIELDS.concat(s.kind === 'eid-activation' ? ACT_FIELDS : []);
    if (!ui.form) {
      ui.form = {};
      fields.forEach(function (f) { ui.form[f] = initial(s, f); });
      if (ui.form.nationality && K.COUNTRIES.indexOf(ui.form.nationality) < 0) { ui.form.nationalityOther = ui.form.nationality; ui.form.nationality = '*'; }
    }
    var errs = {};
    (s.detailErrors || []).forEach(function (e) { if (!errs[e.field]) errs[e.field] = e; });
    var firstBad = fields.filter(function (f) { return errs[f]; })[0];
    var grid = h('div', { class: 'grid2' });
    fields.forEach(function (f) {
      var id = 'f-' + f;
      var input;
      var set = function (v) { ui.form[f] = v; };
      if (f === 'sex') {
        input = h('select', { id: id, name: f, 'data-testid': id, onchange: function () { set(input.value); } },
          h('option', { value: '', text: tt('choose') }), ['M', 'F', 'X'].map(function (x) { return h('option', { value: x, text: tt('sex.' + x) }); }));
        input.value = ui.form[f] || '';
      } else if (f === 'nationality') {
        input = h('select', { id: id, name: f, 'data-testid': id, onchange: function () { set(input.value); K.rerender(); } },
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
      var cell = h('div', { class: 'field' }, h('label', { class: 'f', for: id, text: tt('field.' + f) }), input);
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
      body: form,
      actions: [
        n ? h('span', { class: 'bar-error', 'data-testid': 'details-invalid', text: tt(n === 1 ? 'details.fixOne' : 'details.fixErrors', { n: n }) }) : null,
        h('button', { type: 'button', class: 'btn primary big', 'data-testid': 'details-submit', text: tt('next'), onclick: function () { submit(s, ui); } }),
      ],
    };
  });

  function fieldError(e) { return t('errors.' + e.code, e.params) || tt('errors.invalid'); }
})(window.Kiosk);
