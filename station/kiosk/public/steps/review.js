/* Review: everything about to be sealed, in words (sex, nationality, dates
 * DD/MM/YYYY, each finger's verdict), any completed step can be reopened;
 * confirm seals the record. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, btn = K.btn;

  function value(f, d) {
    var v = d[f];
    if (!v) return tt('none');
    if (f === 'sex') return tt('sex.' + v);
    if (f === 'nationality') return K.countryName(v);
    if (f === 'dateOfBirth' || f === 'documentExpiry') return K.raw(K.fmtDate(v));
    return K.raw(v);
  }

  K.step('review', function (s, ctx) {
    var d = s.details || {};
    var sealing = s.step === 'sealing';
    var edit = function (step) { return btn(tt('review.edit'), function () { K.act('/api/session/goto', { step: step }); }, 'small-btn', 'edit-' + step, sealing); };
    var tb = h('table', { class: 'kv', 'data-testid': 'review-details' }, h('tr', null, h('td', { text: tt('review.kind') }), h('td', { text: tt('kind.' + s.kind) })));
    K.DETAIL_FIELDS.concat(s.kind === 'eid-activation' ? K.ACT_FIELDS : []).forEach(function (f) {
      tb.appendChild(h('tr', { 'data-field': f }, h('td', { text: tt('field.' + f) }), h('td', null, value(f, d))));
    });
    var fingers = h('div', { class: 'fingers review-fingers' }, s.fingers.map(function (f) {
      return h('div', { class: 'finger ' + f.status, 'data-testid': 'review-finger-' + f.position },
        h('span', { class: 'fname', text: tt('finger.short.' + f.position) }),
        h('span', { class: 'fstat', text: f.status === 'exception' ? tt('exc.' + f.exception.code) : tt(f.passed ? 'fp.review.good' : 'fp.review.low', { q: f.quality }) }));
    }));
    var pimg = h('img', { class: 'portrait small-portrait', alt: tt('portrait.alt') });
    if (s.portrait.status === 'captured') K.preview(pimg, '/api/preview/portrait', JSON.stringify(s.portrait.metrics));
    var body = h('div', { class: 'review' },
      h('div', { class: 'sec-head' }, h('h2', { text: tt('details.title') }), edit('details')), tb,
      h('div', { class: 'sec-head' }, h('h2', { text: tt('fp.title') }), edit('fingerprints')), fingers,
      h('div', { class: 'sec-head' }, h('h2', { text: tt('portrait.title') }), edit('portrait')),
      s.portrait.status === 'captured' ? pimg : h('div', null, s.portrait.exception ? [tt('exc.' + s.portrait.exception.code) + ': ', K.raw(s.portrait.exception.reason)] : null));
    if (s.chip) {
      body.appendChild(h('div', { class: 'sec-head' }, h('h2', { text: tt('chip.title') }), edit('chip')));
      body.appendChild(h('div', { 'data-testid': 'review-chip' }, s.chip.passiveAuth ? tt('chip.pa.' + s.chip.passiveAuth.status)
        : s.chip.exception ? [tt('exc.' + s.chip.exception.code) + ': ', K.raw(s.chip.exception.reason)] : null));
    }
    body.appendChild(ctx.slot('end'));
    return {
      title: tt('review.title'),
      body: body,
      actions: [btn(tt('review.confirm'), function () { K.act('/api/session/confirm'); }, 'primary big', 'confirm', sealing)],
    };
  });
})(window.Kiosk);
