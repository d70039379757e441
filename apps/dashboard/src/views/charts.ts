/**
 * The run page's charts: the figures go into the page as a JSON data block (never executed, so CSP-safe) and
 * /static/charts.js draws them with uPlot. Without script, the page still says what each chart would show.
 */
import type { RefreshHistory, RunHistory } from '../status/types';
import { fmtInt } from './format';
import { Html, html } from './html';

interface ChartSeries {
  key: string;
  label: string;
  values: number[];
}

interface ChartData {
  minutes: number[];
  series: ChartSeries[];
}

/** Scripts and styles the charts need, in load order. */
export const CHART_ASSETS = { styles: ['/static/uplot.css'], scripts: ['/static/uplot.js', '/static/charts.js'] };

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function chartBox(id: string, title: string, data: ChartData | undefined): Html {
  const totals = data?.series.map((s) => `${s.label} ${fmtInt(sum(s.values))}`).join(' · ') ?? 'no data';
  return html`<figure class="chart-box"><figcaption>${title}<small>${totals} (last ${data ? data.minutes.length : 0} min)</small></figcaption>
<div class="chart" data-chart="${id}">${data ? '' : html`<div class="empty">Not available to this dashboard.</div>`}</div></figure>`;
}

/** JSON inside <script type="application/json">: `<` escaped so no value can close the element. */
function dataBlock(charts: Record<string, ChartData>): Html {
  return new Html(`<script type="application/json" id="run-charts">${JSON.stringify(charts).replace(/</g, '\\u003c')}</script>`);
}

export function runCharts(run: RunHistory | undefined, refresh: RefreshHistory | undefined): Html {
  const charts: Record<string, ChartData> = {};
  if (run) {
    charts.imports = {
      minutes: run.minutes,
      series: [
        { key: 'imported', label: 'imported', values: run.imported },
        { key: 'errors', label: 'errors', values: run.errors },
        { key: 'rateLimited', label: '429s', values: run.rateLimited },
      ],
    };
  }
  if (refresh) {
    charts.refresh = {
      minutes: refresh.minutes,
      series: [
        { key: 'accepted', label: 'accepted', values: refresh.accepted },
        { key: 'deferred', label: 'deferred (quota)', values: refresh.deferred },
        { key: 'parked', label: 'parked', values: refresh.parked },
      ],
    };
  }
  return html`<h2>Over time</h2><div class="charts">
${chartBox('imports', 'Imports per minute, with errors and 429s', charts.imports)}
${chartBox('refresh', 'Refreshes per minute: accepted, deferred by quota, parked', charts.refresh)}</div>${dataBlock(charts)}`;
}
