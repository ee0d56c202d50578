/* Printable campaign report: /print.html#CAMPAIGN/LEVEL/LANG, figures per unit per day. */
(function () {
  'use strict';
  var parts = location.hash.slice(1).split('/');
  var id = decodeURIComponent(parts[0] || ''), level = parts[1] || 'ward', lang = parts[2] === 'en' ? 'en' : 'vi';
  var root = document.getElementById('report');
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  Promise.all([
    fetch('/i18n/' + lang + '.json').then(function (r) { return r.json(); }),
    fetch('/api/campaigns/' + encodeURIComponent(id) + '/summary?level=' + level, { credentials: 'same-origin' }).then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText); return j; }); }),
  ]).then(function (res) {
    var cat = res[0], s = res[1];
    function t(k, v) { var x = cat[k] || k; Object.keys(v || {}).forEach(function (n) { x = x.split('{' + n + '}').join(String(v[n])); }); return x; }
    var nf = function (n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB'); };
    var pf = function (p) { return p === null || p === undefined ? '–' : (p * 100).toFixed(1) + ' %'; };
    document.documentElement.lang = lang;
    root.textContent = '';
    root.appendChild(el('h1', t('print.title', { name: s.campaign.name })));
    root.appendChild(el('p', t('campaign.period', { from: s.campaign.firstDay, to: s.campaign.lastDay }) + ' · ' + t('level.' + level)));
    root.appendChild(el('p', t('campaign.total', { enrollments: nf(s.totals.enrollments), activations: nf(s.totals.activations), pct: pf(s.totals.pct) })));
    root.appendChild(el('p', s.backlog.records ? t('campaign.backlog', { stations: s.backlog.stations, records: nf(s.backlog.records) }) : t('campaign.noBacklog')));
    var table = el('table', undefined, 'grid');
    var hr = el('tr');
    [t('col.unit'), t('col.enrollments'), t('col.activations'), t('col.quota'), t('col.pct')].concat(s.days.map(function (d) { return d.slice(8, 10) + '/' + d.slice(5, 7); })).forEach(function (x) { hr.appendChild(el('th', x)); });
    var thead = el('thead'); thead.appendChild(hr); table.appendChild(thead);
    var tb = el('tbody');
    s.units.forEach(function (u) {
      var tr = el('tr');
      [u.name + ' (' + u.code + ')', nf(u.enrollments), nf(u.activations), nf(u.quota), pf(u.pct)].concat(u.perDay.map(String)).forEach(function (x) { tr.appendChild(el('td', x)); });
      tb.appendChild(tr);
    });
    table.appendChild(tb);
    root.appendChild(table);
    root.appendChild(el('p', t('print.generated', { at: new Date().toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB') }) + ' · ' + t('campaign.asOf', { at: new Date(s.asOf).toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB') }), 'muted'));
  }).catch(function (e) { root.textContent = e.message; });
})();
