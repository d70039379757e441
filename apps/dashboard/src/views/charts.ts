/**
 * The run page's charts: the figures go into the page as a JSON data block (never executed, so CSP-safe) and
 * /static/charts.js draws them with uPlot. Without script, the page still says what each chart would show.
 */
import type { ReconnectFigures, RefreshHistory, RunHistory } from '../status/types';
import { fmtInt, fmtPercent } from './format';
import { Html, html } from './html';

interface ChartSeries {
  key: string;
  label: string;
  values: number[];
  /** Drawn against a 0–100 % axis on the right instead of the counts' axis. */
  percent?: boolean;
}

interface ChartData {
  /** Epoch ms of each point (minutes; days for the reconnect chart). */
  minutes: number[];
  series: ChartSeries[];
  /** The counts' axis, 'per minute' unless said. */
  yLabel?: string;
}

/** Scripts and styles the charts need, in load order. */
export const CHART_ASSETS = { styles: ['/static/uplot.css'], scripts: ['/static/uplot.js', '/static/charts.js'] };

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function chartBox(id: string, title: string, data: ChartData | undefined, caption?: string): Html {
  const totals =
    caption ??
    `${data?.series.map((s) => `${s.label} ${fmtInt(sum(s.values))}`).join(' · ') ?? 'no data'} (last ${data ? data.minutes.length : 0} min)`;
  return html`<figure class="chart-box"><figcaption>${title}<small>${totals}</small></figcaption>
<div class="chart" data-chart="${id}">${data ? '' : html`<div class="empty">Not available to this dashboard.</div>`}</div></figure>`;
}

/** JSON inside <script type="application/json">: `<` escaped so no value can close the element. */
function dataBlock(charts: Record<string, ChartData>): Html {
  return new Html(
    `<script type="application/json" id="run-charts">${JSON.stringify(charts).replace(/</g, '\\u003c')}</script>`,
  );
}

export function runCharts(
  run: RunHistory | undefined,
  refresh: RefreshHistory | undefined,
  reconnects?: ReconnectFigures,
): Html {
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
  if (reconnects) {
    charts.reconnects = {
      minutes: reconnects.days,
      yLabel: 'per day',
      series: [
        { key: 'reconnected', label: 'reconnected', values: reconnects.perDay },
        {
          key: 'waiting',
          label: 'still waiting (%)',
          values: reconnects.shareWaitingByDay.map((v) => Math.round(v * 1000) / 10),
          percent: true,
        },
      ],
    };
  }
  const conversion = reconnects
    ? `${fmtInt(reconnects.reconnected)} reconnected, ${fmtInt(reconnects.waiting)} still waiting (${fmtPercent(reconnects.shareWaiting * 100)}) over ${reconnects.days.length} d`
    : undefined;
  return html`<h2>Over time</h2><div class="charts">
${chartBox('imports', 'Imports per minute, with errors and 429s', charts.imports)}
${chartBox('refresh', 'Refreshes per minute: accepted, deferred by quota, parked', charts.refresh)}
${chartBox('reconnects', 'Reconnect conversion: links reconnected per day, share of imported links still waiting', charts.reconnects, conversion)}</div>${dataBlock(charts)}`;
}
