/** The run pages: every migration run at a glance, and one run in detail. Server-rendered, no script. */
import { describeStall } from '@mk/ledger';
import type { RefreshHealth, RefreshHistory } from '../status/types';
import type { RunView } from '../status/progress';
import { fmtDuration, fmtInt, fmtPercent, fmtRate, fmtTime } from './format';
import { html, type Html } from './html';
import { CHART_ASSETS, runCharts } from './charts';
import { page, type PageContext } from './layout';

const STATE_ORDER = ['pending', 'importing', 'linked', 'imported', 'failed'];

const STATE_TONE: Record<RunView['state'], '' | 'warn' | 'bad' | 'ok'> = {
  running: '',
  stalled: 'bad',
  completed: 'ok',
  completed_with_failures: 'warn',
};

/** The run's state as every view names it (the same words as `mk-migrate status`). */
function statePill(run: RunView): Html {
  return html`<span class="pill ${STATE_TONE[run.state]} state-${run.state}" title="${run.summary}">${run.stateLabel}</span>`;
}

/**
 * A banner for a run that does not move (paused, stalled) with every reason and what clears it; how a run completed
 * with failures; nothing for a run that is simply running.
 */
function stateDetail(run: RunView): Html | '' {
  if (run.state === 'running' || run.state === 'completed') return '';
  if (run.state === 'completed_with_failures')
    return html`<p class="state-detail warn"><strong>${run.summary}</strong></p>`;
  const paused = run.stalled.some((r) => r.kind === 'queue_paused');
  const title = paused
    ? 'Paused: nothing is imported until the import queue resumes'
    : 'Stalled: nothing is imported until this is fixed';
  return html`<div class="banner bad state-detail" role="alert" data-stall="${run.stalled.map((r) => r.kind).join(' ')}"><strong>${title}</strong>
<ul>${run.stalled.map((r) => html`<li>${describeStall(r)}</li>`)}</ul></div>`;
}

function card(label: string, value: string, tone: '' | 'ok' | 'warn' | 'bad' = ''): Html {
  return html`<div class="card ${tone}"><div class="label">${label}</div><div class="value">${value}</div></div>`;
}

function progressBar(run: RunView, big = false): Html {
  const share = (n: number) => (run.total === 0 ? 0 : (n / run.total) * 100).toFixed(2);
  return html`<div class="bar${big ? ' big' : ''}" title="${fmtPercent(run.percentDone)} settled">
<span style="width:${share(run.imported)}%"></span><span class="failed" style="width:${share(run.failed)}%"></span></div>`;
}

export function refreshSection(stats: RefreshHealth | undefined): Html {
  if (!stats)
    return html`<h2>Refresh pipeline</h2><div class="empty">The refresh pipeline's status is not available to this dashboard.</div>`;
  return html`<h2>Refresh pipeline</h2><div class="cards">
${card('Registered links', fmtInt(stats.registered))}
${card('Due now', fmtInt(stats.dueNow), stats.dueNow > 0 ? 'warn' : 'ok')}
${card('Overdue', fmtInt(stats.overdue), stats.overdue > 0 ? 'bad' : 'ok')}
${card('Parked (reconnect)', fmtInt(stats.parked))}
${card('Quota deferrals', fmtInt(stats.quotaDeferrals))}</div>`;
}

export function runsPage(ctx: PageContext, runs: RunView[], refresh: RefreshHealth | undefined): string {
  const rows = runs.map(
    (run) => html`<tr>
<td><a href="/runs/${encodeURIComponent(run.runId)}" class="mono">${run.runId}</a><br>${statePill(run)}</td>
<td>${fmtTime(run.createdAt)}</td>
<td>${progressBar(run)}<small>${fmtPercent(run.percentDone)}</small></td>
<td class="num">${fmtInt(run.imported)}</td><td class="num">${fmtInt(run.failed)}</td>
<td class="num">${fmtInt(run.remaining)}</td><td class="num">${fmtInt(run.rejects)}</td>
<td class="num">${fmtRate(run.throughputPerMin)}</td><td class="num">${fmtDuration(run.etaSeconds)}</td></tr>
${run.state === 'stalled' ? html`<tr class="stalled"><td colspan="9"><small>${run.summary}</small></td></tr>` : ''}`,
  );
  const table = runs.length
    ? html`<table><thead><tr><th>Run</th><th>Started</th><th>Progress</th><th class="num">Imported</th><th class="num">Failed</th>
<th class="num">Remaining</th><th class="num">Rejects</th><th class="num">Throughput</th><th class="num">ETA</th></tr></thead>
<tbody>${rows}</tbody></table>`
    : html`<div class="empty">No migration run yet. Start one with the producer: <code>pnpm mk-migrate run dump.ndjson.gz --run &lt;name&gt;</code>.</div>`;
  return page(
    'Runs',
    { ...ctx, active: 'runs' },
    html`<h1>Migration runs</h1>
<p class="sub">Connections from the source aggregator, as the migration ledger records them.</p>
${table}${refreshSection(refresh)}`,
  );
}

export function runPage(ctx: PageContext, run: RunView, refreshHistory?: RefreshHistory): string {
  const states = [...STATE_ORDER, ...Object.keys(run.counts).filter((s) => !STATE_ORDER.includes(s))];
  const failures = run.recentFailures.length
    ? html`<table><thead><tr><th>Source user</th><th>Connection</th><th>Class</th><th>Reason</th><th>Last attempt</th></tr></thead><tbody>
${run.recentFailures.map(
  (f) => html`<tr><td class="mono">${f.sourceUserId}</td><td class="mono">${f.connectionId}</td>
<td>${f.errorClass ? html`<span class="pill bad">${f.errorClass}</span>` : '—'}</td><td>${f.reason}</td><td>${fmtTime(f.at)}</td></tr>`,
)}</tbody></table>`
    : html`<div class="empty">No failed connection.</div>`;
  const rejects = run.recentRejects.length
    ? html`<table><thead><tr><th class="num">Dump line</th><th>Source id</th><th>Reason</th></tr></thead><tbody>
${run.recentRejects.map((r) => html`<tr><td class="num">${fmtInt(r.line)}</td><td class="mono">${r.sourceId ?? '—'}</td><td>${r.reason}</td></tr>`)}
</tbody></table>`
    : html`<div class="empty">No rejected record.</div>`;
  return page(
    `Run ${run.runId}`,
    { ...ctx, active: 'runs' },
    html`<p class="sub"><a href="/runs">← All runs</a></p>
<h1>Run <span class="mono">${run.runId}</span> ${statePill(run)}</h1>
${stateDetail(run)}
<p class="sub">Started ${fmtTime(run.createdAt)}${run.dump ? html` from <code>${run.dump}</code>` : ''}; producer ${run.status ?? 'unknown'}.
${fmtInt(run.imported + run.failed)} of ${fmtInt(run.total)} connections settled (${fmtPercent(run.percentDone)}).</p>
${progressBar(run, true)}
<div class="cards">
${card('Imported', fmtInt(run.imported), 'ok')}
${card('Failed', fmtInt(run.failed), run.failed > 0 ? 'bad' : '')}
${card('Remaining', `${run.remainingEstimated && run.remaining > 0 ? '~' : ''}${fmtInt(run.remaining)}`)}
${card('Rejected records', fmtInt(run.rejects), run.rejects > 0 ? 'warn' : '')}
${card('Throughput', fmtRate(run.throughputPerMin))}
${card('ETA', fmtDuration(run.etaSeconds))}
${run.parkedLinks === undefined ? '' : card('Parked links', fmtInt(run.parkedLinks), run.parkedLinks > 0 ? 'warn' : '')}
${run.reconnects ? card('Reconnected', fmtInt(run.reconnects.reconnected), 'ok') : ''}
${run.reconnects ? card('Waiting for their user', `${fmtInt(run.reconnects.waiting)} (${fmtPercent(run.reconnects.shareWaiting * 100)})`, run.reconnects.waiting > 0 ? 'warn' : '') : ''}
</div>
${runCharts(run.history, refreshHistory, run.reconnects)}
<h2>Connections by state</h2>
<div class="table-wrap"><table><thead><tr>${states.map((s) => html`<th class="num">${s}</th>`)}</tr></thead>
<tbody><tr>${states.map((s) => html`<td class="num">${fmtInt(run.counts[s] ?? 0)}</td>`)}</tr></tbody></table></div>
<h2>Recent failures</h2><div class="table-wrap">${failures}</div>
<h2>Rejected records</h2><div class="table-wrap">${rejects}</div>
<footer>${run.state === 'stalled' ? 'No expected end while stalled.' : html`Expected end ${fmtTime(run.etaAt)} at the current rate (last 60 s).`} JSON: <a href="/api/runs/${encodeURIComponent(run.runId)}">/api/runs/${run.runId}</a></footer>`,
    CHART_ASSETS,
  );
}

export function notFoundPage(ctx: PageContext, what: string): string {
  return page(
    'Not found',
    ctx,
    html`<h1>Not found</h1><p class="sub">${what}</p><p><a href="/runs">← All runs</a></p>`,
  );
}

export function forbiddenPage(ctx: PageContext): string {
  return page(
    'Forbidden',
    ctx,
    html`<h1>Forbidden</h1><p class="sub">Your role (${ctx.principal?.role ?? 'none'}) cannot do this. Viewers can read everything but change nothing.</p>`,
  );
}
