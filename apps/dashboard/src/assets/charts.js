// Draws the run page's charts from the JSON the server embedded (#run-charts) with uPlot, loaded before this file.
// Plain browser script, no build step: served as it is by static.ts.
(function () {
  'use strict';
  var data = document.getElementById('run-charts');
  if (!data || typeof uPlot === 'undefined') return;
  var charts = JSON.parse(data.textContent || '{}');
  var COLORS = {
    imported: '#1f8a4c',
    errors: '#c53030',
    rateLimited: '#b7791f',
    accepted: '#2c5ee8',
    deferred: '#b7791f',
    parked: '#7b61c4',
    reconnected: '#1f8a4c',
    waiting: '#b7791f',
  };
  var drawn = [];

  function draw(el, chart) {
    var seconds = chart.minutes.map(function (ms) {
      return ms / 1000;
    });
    var series = [{}].concat(
      chart.series.map(function (s) {
        return {
          label: s.label,
          scale: s.percent ? '%' : 'y',
          stroke: COLORS[s.key] || '#1d2433',
          width: 2,
          fill:
            s.key === 'imported' || s.key === 'accepted' || s.key === 'reconnected' ? COLORS[s.key] + '22' : undefined,
          points: { show: false },
        };
      }),
    );
    var percent = chart.series.some(function (s) {
      return s.percent;
    });
    var axes = [{}, { label: chart.yLabel || 'per minute', size: 56 }];
    // a share goes on its own 0–100 % axis, on the right
    if (percent) axes.push({ scale: '%', side: 1, label: '%', size: 48, grid: { show: false } });
    var scales = {
      y: {
        range: function (u, min, max) {
          return [0, Math.max(1, max * 1.1)];
        },
      },
    };
    if (percent) scales['%'] = { range: [0, 100] };
    var opts = {
      width: Math.max(260, el.clientWidth),
      height: 220,
      series: series,
      // UTC, like every time on the dashboard.
      tzDate: function (ts) {
        return uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');
      },
      axes: axes,
      scales: scales,
      legend: { live: false },
    };
    var values = [seconds].concat(
      chart.series.map(function (s) {
        return s.values;
      }),
    );
    return new uPlot(opts, values, el);
  }

  document.querySelectorAll('[data-chart]').forEach(function (el) {
    var chart = charts[el.getAttribute('data-chart')];
    if (!chart || chart.minutes.length === 0) return;
    el.textContent = '';
    drawn.push({ el: el, plot: draw(el, chart) });
  });
  window.addEventListener('resize', function () {
    drawn.forEach(function (d) {
      d.plot.setSize({ width: Math.max(260, d.el.clientWidth), height: 220 });
    });
  });
  document.documentElement.setAttribute('data-charts', 'drawn');
})();
