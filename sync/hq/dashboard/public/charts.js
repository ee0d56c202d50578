/* Campaign plots (#20 item 3) with Chart.js, served from its npm package. Data only from the
 * campaign summary the server computed from what headquarters stored. */
(function () {
  'use strict';
  var charts = {};
  function destroy(id) { if (charts[id]) { charts[id].destroy(); delete charts[id]; } }

  /** Cumulative stored per day against the straight target line to the quota on the last day. */
  function progressSeries(s) {
    var cum = [], target = [], sum = 0, n = s.days.length, q = s.totals.quota || 0;
    for (var i = 0; i < n; i++) {
      sum += s.totals.perDay[i] || 0;
      cum.push(s.days[i] <= s.today ? sum : null);
      target.push(q ? Math.round((q * (i + 1)) / n) : null);
    }
    return { cum: cum, target: target };
  }

  function draw(s, t, lang) {
    if (!window.Chart) return;
    var p = document.getElementById('chart-progress');
    var r = document.getElementById('chart-ranking');
    var locale = lang === 'vi' ? 'vi-VN' : 'en-GB';
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    if (p) {
      destroy('progress');
      var ser = progressSeries(s);
      charts.progress = new Chart(p, {
        type: 'line',
        data: { labels: s.days.map(function (d) { return d.slice(8, 10) + '/' + d.slice(5, 7); }), datasets: [
          { label: t('campaign.cumulative'), data: ser.cum, borderColor: '#0b6bcb', backgroundColor: '#0b6bcb', pointRadius: 0, borderWidth: 2 },
          { label: t('campaign.target'), data: ser.target, borderColor: '#c0392b', borderDash: [6, 4], pointRadius: 0, borderWidth: 2 },
        ] },
        options: { locale: locale, scales: { y: { beginAtZero: true } }, plugins: { legend: { position: 'bottom' } } },
      });
      p.setAttribute('data-points', JSON.stringify(ser.cum.filter(function (x) { return x !== null; })));
    }
    if (r) {
      destroy('ranking');
      var ranked = s.units.filter(function (u) { return u.pct !== null; }).sort(function (a, b) { return b.pct - a.pct || (a.code < b.code ? -1 : 1); });
      // hundreds of wards do not fit one plot: the 15 ahead and the 15 furthest behind (the table has all)
      var units = ranked.length > 30 ? ranked.slice(0, 15).concat(ranked.slice(-15)) : ranked;
      r.parentNode.style.height = Math.max(120, 26 * units.length + 50) + 'px';
      charts.ranking = new Chart(r, {
        type: 'bar',
        data: { labels: units.map(function (u) { return u.name; }), datasets: [{ label: t('col.pct'), data: units.map(function (u) { return Math.round(u.pct * 1000) / 10; }), backgroundColor: units.map(function (u) { return u.pct >= 1 ? '#1e8449' : u.pct >= 0.8 ? '#d4ac0d' : '#c0392b'; }) }] },
        options: { locale: locale, indexAxis: 'y', scales: { x: { beginAtZero: true, ticks: { callback: function (v) { return v + ' %'; } } } }, plugins: { legend: { display: false } } },
      });
      r.setAttribute('data-order', JSON.stringify(units.map(function (u) { return u.code; })));
    }
  }
  window.HQCharts = { draw: draw, progressSeries: progressSeries };
})();
