/* Consent: the person reads the programme's consent text (as configured, shown
 * as data, in Vietnamese or English) and answers on the touchscreen. The page
 * sends back the SHA-256 of the text it showed, so the record's hash is the text
 * the person saw. "Do not agree" ends the session before anything is captured. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, btn = K.btn;

  K.step('consent', function (s, ctx) {
    var c = s.consentText || { texts: [] };
    var langs = c.texts.map(function (x) { return x.language; });
    var pick = ctx.ui.consentLang && langs.indexOf(ctx.ui.consentLang) >= 0 ? ctx.ui.consentLang : (langs.indexOf(ctx.lang) >= 0 ? ctx.lang : langs[0]);
    var shown = c.texts.filter(function (x) { return x.language === pick; })[0];
    var paras = shown ? shown.text.split(/\n\s*\n/).map(function (p) { return h('p', { class: 'raw consent-para', 'data-raw': '', text: p }); }) : null;
    var switcher = langs.length > 1 ? h('div', { class: 'choices', role: 'radiogroup', 'aria-label': tt('consent.language'), 'data-testid': 'consent-language' },
      langs.map(function (l) {
        return h('button', { type: 'button', role: 'radio', 'aria-checked': String(l === pick), class: 'choice' + (l === pick ? ' on' : ''), 'data-lang': l,
          onclick: function () { ctx.ui.consentLang = l; ctx.rerender(); } }, tt('consent.lang.' + l));
      })) : null;
    var answer = function (accepted) {
      K.act('/api/session/consent', accepted ? { accepted: true, language: shown.language, sha256: shown.sha256 } : { accepted: false, language: shown.language });
    };
    return {
      title: tt('consent.title'),
      body: h('div', { class: 'consent', 'data-testid': 'consent', 'data-version': c.version || '' },
        h('p', { class: 'lead', text: tt('consent.lead') }),
        switcher,
        h('div', { class: 'consent-text', lang: pick, 'data-testid': 'consent-text' }, paras),
        h('p', { class: 'small' }, tt('consent.version') + ': ', K.raw(c.version)),
        ctx.slot('end')),
      actions: [
        btn(tt('consent.decline'), function () { K.openDialog('consent-decline', { answer: answer }); }, '', 'consent-decline', !shown),
        btn(tt('consent.agree'), function () { answer(true); }, 'primary big', 'consent-agree', !shown),
      ],
    };
  });

  K.dialog('consent-decline', function (p) {
    return {
      title: tt('consent.decline.title'),
      body: h('p', { text: tt('consent.decline.body') }),
      actions: [btn(tt('cancel'), K.closeDialog, '', 'consent-decline-cancel'), btn(tt('consent.decline.confirm'), function () { K.closeDialog(); p.answer(false); }, 'danger', 'consent-decline-confirm')],
    };
  });
})(window.Kiosk);
