/* Home (no session): ready for the next person, or — once, with its reason —
 * why the station cannot start a session (locked, offline policy, disk, key).
 * Also the choice of procedure, and the notice about a session a restart
 * interrupted: sealed or not (the vault was asked), when, its reference. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, t = K.t, btn = K.btn;

  function start(kind) {
    return function () {
      K.act('/api/session/start').then(function (r) { if (r.status === 200) K.act('/api/session/kind', { kind: kind }); });
    };
  }

  /** The interrupted session (from /api/hello or the snapshot). `loggedIn`: offer dismiss / enroll again. */
  K.lostNotice = function (lost, loggedIn) {
    var sealed = lost.sealed === true;
    var stepName = tt('step.' + lost.step, null, 'step.unknown');
    var body = sealed
      ? h('div', null, h('p', { text: tt('lost.sealed.body', { when: K.fmtTime(lost.sealedAt) }) }),
        h('p', null, tt('lost.ref') + ': ', h('strong', { class: 'mono', 'data-testid': 'lost-ref', 'data-raw': '', text: lost.recordRef || '' })),
        h('p', { class: 'strong', text: tt('lost.sealed.noAgain') }))
      : h('div', null, h('p', { text: tt('lost.unsealed.body', { started: K.fmtTime(lost.startedAt), step: stepName }) }),
        h('p', { class: 'strong', text: tt('lost.unsealed.again') }));
    var actions = null;
    if (loggedIn) {
      actions = h('div', { class: 'row-actions' },
        !sealed && lost.kind ? btn(tt('lost.enrollAgain'), function () {
          K.act('/api/lost/dismiss').then(function () { return K.loadHello(); }).then(start(lost.kind === 'eid-activation' ? 'eid-activation' : 'enrollment'));
        }, 'primary', 'lost-enroll-again') : null,
        btn(tt('lost.dismiss'), function () { K.act('/api/lost/dismiss').then(K.loadHello).then(K.rerender); }, sealed ? 'primary' : '', 'lost-dismiss'));
    }
    return h('div', { class: 'banner ' + (sealed ? 'ok' : 'warn'), 'data-testid': 'lost-session', 'data-sealed': String(sealed), role: 'status' },
      h('h2', { text: tt(sealed ? 'lost.sealed.title' : 'lost.unsealed.title') }), body, actions);
  };

  function refusal(g) {
    if (g.code === 'locked') {
      var l = g.lock || {};
      var by = t('lock.by.' + l.by) || tt('lock.by.headquarters');
      return h('div', { class: 'banner err locked', role: 'alert', 'data-testid': 'guard-refused', 'data-code': 'locked' },
        h('h2', null, K.icon('lock'), ' ', tt('home.lockedWhat')),
        h('p', { text: by + (l.at ? ' · ' + K.fmtTime(l.at) : '') }),
        l.reason ? h('p', null, tt('lock.reason') + ': ', K.raw('“' + l.reason + '”')) : null,
        h('p', { class: 'hint', text: tt(l.by === 'tamper' ? 'lock.hint.tamper' : 'lock.hint.headquarters') }));
    }
    var e = K.errText({ code: 'WORKFLOW_REFUSED', message: g.message, details: { reason: g.code } });
    return h('div', { class: 'banner err', role: 'alert', 'data-testid': 'guard-refused', 'data-code': g.code },
      h('h2', { text: tt('home.refused') }), h('p', { text: e.text }), e.hint ? h('p', { class: 'hint', text: e.hint }) : null, K.techDetails(e.tech));
  }

  K.step('home', function (s, ctx) {
    var st = ctx.state;
    var g = st.guard;
    var blocked = g && !g.ok;
    var body = h('div', { class: 'home' });
    if (st.lostSession) body.appendChild(K.lostNotice(st.lostSession, true));
    if (blocked) body.appendChild(refusal(g));
    else body.appendChild(h('p', { class: 'lead', text: tt('home.lead') }));
    if (st.today) {
      body.appendChild(h('p', { class: 'small' }, tt('home.today', { n: st.today.enrollments + st.today.activations }),
        st.today.quota ? ' · ' + tt('home.quota', { quota: st.today.quota }) : ''));
    }
    return {
      title: blocked ? tt(g.code === 'locked' ? 'home.locked' : 'home.refused') : tt('home.title'),
      body: body,
      actions: blocked ? [] : [
        btn(tt('home.activate'), start('eid-activation'), 'big', 'start-activation'),
        btn(tt('home.enroll'), start('enrollment'), 'primary big', 'start-enrollment'),
      ],
    };
  });

  K.step('kind', function () {
    return {
      title: tt('kind.title'),
      body: h('div', { class: 'choices-big' },
        btn(tt('home.enroll'), function () { K.act('/api/session/kind', { kind: 'enrollment' }); }, 'primary big', 'kind-enrollment'),
        btn(tt('home.activate'), function () { K.act('/api/session/kind', { kind: 'eid-activation' }); }, 'big', 'kind-activation')),
      actions: [],
    };
  });
})(window.Kiosk);
