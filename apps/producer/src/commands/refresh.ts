/** `links` and `refresh`: what the refresh pipeline knows of a link, and its overall health. */
import type { LinkRefreshState, RefreshRegistry, RefreshStats, TraceEntry } from '@mk/refresh';

const at = (ms: number | undefined) => (ms === undefined ? '—' : new Date(ms).toISOString().replace('.000', ''));

export function formatLinkState(linkId: string, state: LinkRefreshState | null, trace: TraceEntry[] = []): string {
  if (!state) return `${linkId}: not registered for refresh`;
  const why = state.parked
    ? ` (parked: ${state.parked.reason})`
    : state.removed
      ? ` (removed: ${state.removed.reason})`
      : '';
  const lines = [`${linkId}: ${state.mode}${why}, next dispatch ${at(state.scheduledAt)}`];
  for (const p of state.products) {
    lines.push(
      `  ${p.product.padEnd(16)} ${p.status}${p.stopped ? ` (${p.stopped})` : ''}  last ${at(p.lastRefreshAt)}  allowed from ${at(p.nextAllowedAt)}  next due ${at(p.nextDueAt)}`,
    );
  }
  if (trace.length)
    lines.push('  latest steps:', ...trace.map((e) => `    ${at(e.at)}  ${e.step} ${e.detail}  (pid ${e.by})`));
  return lines.join('\n');
}

export function formatRefreshStats(s: RefreshStats): string {
  return [
    `links ${s.registered}: active ${s.active}, parked ${s.parked} (waiting for their users to reconnect), removed ${s.removed}`,
    `due now ${s.dueNow}, overdue ${s.overdue}${s.nextDueAt ? `, next due ${at(s.nextDueAt)}` : ''}`,
    `refreshes accepted ${s.accepted}, quota deferrals ${s.quotaDeferrals}, outcome unknown ${s.uncertain}, stopped (403) ${s.forbidden}`,
  ].join('\n');
}

/** The refresh columns of the report, for the links of a batch of report rows. */
export async function refreshColumns(
  registry: RefreshRegistry,
  linkIds: (string | undefined)[],
): Promise<{ refresh: string; refresh_reason: string; next_refresh_at: string }[]> {
  const states = await Promise.all(linkIds.map((id) => (id ? registry.get(id) : Promise.resolve(null))));
  return states.map((s) => {
    if (!s) return { refresh: '', refresh_reason: '', next_refresh_at: '' };
    const next = s.products.map((p) => p.nextDueAt).filter((t): t is number => t !== undefined);
    return {
      refresh: s.mode,
      refresh_reason: s.parked?.reason ?? s.removed?.reason ?? '',
      next_refresh_at: s.mode === 'active' && next.length ? new Date(Math.min(...next)).toISOString() : '',
    };
  });
}
