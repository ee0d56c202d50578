/* Sealed: the record is safe in the vault; its short reference and time. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, btn = K.btn;
  K.step('sealed', function (s, ctx) {
    return {
      title: tt('sealed.title'),
      body: h('div', { class: 'sealed', 'data-testid': 'sealed', 'data-record-id': s.recordId || '' },
        h('p', { class: 'lead', text: tt('sealed.body') }),
        h('p', { class: 'ref' }, h('span', { text: tt('sealed.recordRef') + ': ' }), h('strong', { class: 'mono', 'data-testid': 'record-ref', 'data-raw': '', text: s.recordRef || '' })),
        s.sealedAt ? h('p', { class: 'small' }, tt('sealed.at') + ': ', K.fmtTime(s.sealedAt)) : null,
        ctx.slot('end')),
      actions: [btn(tt('sealed.next'), function () { K.act('/api/session/finish'); }, 'primary big', 'next-person')],
    };
  });
})(window.Kiosk);
