/* The demo's trainer panel (`station demo --faults` only; the server sends
 * state.demoFaults there and nowhere else): one switch per failure to rehearse.
 * Each switch makes the simulator itself fail, so the chips, the steps' error
 * panels and the exception paths are the ones a real failure shows. */
'use strict';
(function (K) {
  var h = K.h, tt = K.tt, btn = K.btn;
  var ORDER = ['scanner', 'camera', 'card', 'broker'];

  K.dialog('faults', function () {
    var f = (K.state() && K.state().demoFaults) || {};
    var rows = ORDER.filter(function (n) { return n in f; }).map(function (n) {
      var on = f[n] === true;
      var b = btn(tt(on ? 'faults.restore' : 'faults.break'), function () {
        K.act('/api/demo/faults', { fault: n, on: !on }, { keepNotice: true });
      }, on ? 'primary' : '', 'fault-' + n);
      b.setAttribute('aria-pressed', String(on));
      b.setAttribute('data-on', String(on));
      return h('div', { class: 'fault-row' },
        h('span', { class: 'fault-name', text: tt('faults.' + n) }),
        h('span', { class: 'fault-state lvl-text lvl-' + (on ? 'bad' : 'ok'), text: tt(on ? 'faults.state.on' : 'faults.state.off') }),
        b);
    });
    return {
      title: tt('faults.title'), testid: 'faults-dialog',
      body: h('div', { class: 'faults' }, h('p', { class: 'hint', text: tt('faults.lead') }), rows),
    };
  });
})(window.Kiosk);
