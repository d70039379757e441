/**
 * The one place a run's state is decided: running, stalled (and why), completed, completed with failures, with
 * its throughput, remaining work and ETA. `mk-migrate status`, `run --wait`, the dashboard's run pages, /api/runs
 * and /metrics all show what `decideRunState` returns, in the words `describeRunState` gives: they never disagree.
 * Pure: the signals are read elsewhere (run-signals.ts), so every rule is tested as a table.
 */
import type { QueuePause } from './records';

export const RUN_STATES = ['running', 'stalled', 'completed', 'completed_with_failures'] as const;
export type RunStateName = (typeof RUN_STATES)[number];

export const STALL_KINDS = [
  'queue_paused',
  'no_worker',
  'upstream_unreachable',
  'connections_without_job',
  'producer_stopped',
] as const;
export type StallKind = (typeof STALL_KINDS)[number];

export type StallReason =
  /** The import queue is paused: by a process (the hash it wrote says who and why) or else by an operator. */
  | { kind: 'queue_paused'; by: string; reason?: string; at?: number }
  /** No import worker is connected to the queue. */
  | { kind: 'no_worker' }
  /** Failed attempts keep coming (retryable: 5xx, timeouts, refused connections) and nothing is imported. */
  | { kind: 'upstream_unreachable'; errors: number; lastError?: string; lastImportAt?: number }
  /** Open connections whose import job does not exist (or failed for good): nothing will ever import them. */
  | { kind: 'connections_without_job'; connections: number }
  /** The producer stopped before the end of the dump (killed, or gave up): the rest has no job. */
  | { kind: 'producer_stopped'; line: number; at: number; error?: string };

/** Stalls only a new `mk-migrate run` (or `retry`) clears; the others clear when an operator or MoneyKit acts. */
export const NEEDS_PRODUCER: readonly StallKind[] = ['connections_without_job', 'producer_stopped'];

/** Throughput is measured over the last minute, or since the run started when it is younger. */
export const THROUGHPUT_WINDOW_MS = 60_000;
/** Retryable errors are counted over this window. */
export const UPSTREAM_ERROR_WINDOW_MS = 5 * 60_000;
/** With errors in the window, this long without a single import means MoneyKit is unreachable (a steady run imports every few seconds). */
export const UPSTREAM_SILENCE_MS = 2 * 60_000;
/** The producer beats this often while it reads the dump... */
export const PRODUCER_BEAT_MS = 5_000;
/** ...and is taken for dead after this long without a beat (generous: a 64 MB line takes seconds to convert). */
export const PRODUCER_SILENT_MS = 60_000;

/** What is known about a run; every probe is optional (undefined = not known, never taken as a stall). */
export interface RunSignals {
  /** Epoch ms the run was opened. */
  createdAt: number;
  /** The producer's phase (RunMeta.status): 'enqueued' once it read the whole dump. */
  status?: string;
  /** Connections by ledger state. */
  counts: Record<string, number>;
  /** Dump records the producer rejected. */
  rejects: number;
  /** Connections imported per minute over the last 60 s, or since the run started when younger (see `throughputOf`). */
  throughputPerMin: number;
  /** While the producer reads the dump: what it read so far, to project the dump's whole size. */
  dumpProgress?: { connectionsSeen: number; bytesRead: number; bytesTotal: number };
  producer?: { at: number; line: number; stopped?: string };
  /** Retryable errors recorded in the last 5 minutes, the latest one, and the last import. */
  upstreamErrors?: number;
  lastError?: string;
  lastImportAt?: number;
  importQueue?: { paused: boolean; pausedBy?: QueuePause; workers?: number };
  /** Open connections whose job does not exist or failed for good (checked only when the producer is not enqueuing). */
  connectionsWithoutJob?: number;
}

export interface RunState {
  state: RunStateName;
  /** Why it is stalled; empty unless `state` is 'stalled'. */
  stalled: StallReason[];
  /** One line for people: the state and why, the same words everywhere. */
  summary: string;
  /** Connections still to settle; while the producer reads the dump, projected from the share read. */
  remaining: number;
  remainingEstimated: boolean;
  throughputPerMin: number;
  /** Seconds left at the current throughput; null when nothing moves, nothing is left, or the run is stalled. */
  etaSeconds: number | null;
}

const n = (counts: Record<string, number>, state: string) => counts[state] ?? 0;
export const openConnectionsOf = (counts: Record<string, number>) =>
  n(counts, 'pending') + n(counts, 'importing') + n(counts, 'linked');
/** Connections in the ledger, whatever their state (rejected records are not connections). */
export const connectionsOf = (counts: Record<string, number>) => Object.values(counts).reduce((sum, c) => sum + c, 0);

function producerStopped(s: Pick<RunSignals, 'status' | 'producer'>, now: number): StallReason | undefined {
  if (s.status === 'enqueued' || !s.producer) return undefined;
  const { at, line, stopped } = s.producer;
  if (stopped === undefined && now - at <= PRODUCER_SILENT_MS) return undefined;
  return { kind: 'producer_stopped', line, at, ...(stopped !== undefined && { error: stopped }) };
}

/** The producer read the whole dump, or is gone: from then on, an open connection without a job stays so. */
export const producerDone = (s: Pick<RunSignals, 'status' | 'producer'>, now = Date.now()) =>
  s.status === 'enqueued' || producerStopped(s, now) !== undefined;

function remainingOf(s: RunSignals, open: number): { remaining: number; remainingEstimated: boolean } {
  const p = s.dumpProgress;
  if (s.status === 'enqueued' || !p || p.bytesRead <= 0 || p.bytesTotal <= 0)
    return { remaining: open, remainingEstimated: s.status !== 'enqueued' };
  const projected = Math.round((p.connectionsSeen * p.bytesTotal) / Math.min(p.bytesRead, p.bytesTotal));
  const settled = n(s.counts, 'imported') + n(s.counts, 'failed');
  return { remaining: Math.max(open, projected - settled), remainingEstimated: true };
}

export function decideRunState(s: RunSignals, now = Date.now()): RunState {
  const open = openConnectionsOf(s.counts);
  const failed = n(s.counts, 'failed');
  const { remaining, remainingEstimated } = remainingOf(s, open);
  const base = { remaining, remainingEstimated, throughputPerMin: s.throughputPerMin };
  if (s.status === 'enqueued' && open === 0) {
    const state: RunStateName = failed > 0 || s.rejects > 0 ? 'completed_with_failures' : 'completed';
    return { ...base, state, stalled: [], etaSeconds: null, summary: describeRunState(state, [], s) };
  }

  const stalled: StallReason[] = [];
  const stoppedProducer = producerStopped(s, now);
  if (stoppedProducer) stalled.push(stoppedProducer);
  if (open > 0) {
    const q = s.importQueue;
    if (q?.paused)
      stalled.push({
        kind: 'queue_paused',
        by: q.pausedBy?.by ?? 'an operator',
        ...(q.pausedBy?.reason && { reason: q.pausedBy.reason }),
        ...(q.pausedBy?.at && { at: q.pausedBy.at }),
      });
    if (q?.workers === 0) stalled.push({ kind: 'no_worker' });
    const silentSince = s.lastImportAt ?? s.createdAt;
    if ((s.upstreamErrors ?? 0) > 0 && now - silentSince > UPSTREAM_SILENCE_MS) {
      stalled.push({
        kind: 'upstream_unreachable',
        errors: s.upstreamErrors!,
        ...(s.lastError && { lastError: s.lastError }),
        ...(s.lastImportAt && { lastImportAt: s.lastImportAt }),
      });
    }
    // While the producer reads the dump, a record may exist a moment before its job: only judged once it is done or gone.
    if (producerDone(s, now) && (s.connectionsWithoutJob ?? 0) > 0)
      stalled.push({ kind: 'connections_without_job', connections: s.connectionsWithoutJob! });
  }
  const state: RunStateName = stalled.length > 0 ? 'stalled' : 'running';
  const etaSeconds =
    state === 'running' && remaining > 0 && s.throughputPerMin > 0
      ? Math.ceil((remaining / s.throughputPerMin) * 60)
      : null;
  return { ...base, state, stalled, etaSeconds, summary: describeRunState(state, stalled, s, now) };
}

/**
 * Events per minute from per-minute buckets (minute index → count) over the last `windowMs`, or since `startedAt`
 * when the run is younger. The oldest bucket only partly in the window counts for that part (its events taken as
 * spread evenly over the part of its minute the run was alive).
 */
export function throughputOf(
  buckets: Map<number, number>,
  now: number,
  startedAt: number,
  windowMs = THROUGHPUT_WINDOW_MS,
): number {
  const from = Math.max(now - windowMs, startedAt);
  const elapsed = now - from;
  if (elapsed <= 0) return 0;
  return (countSince(buckets, from, now, startedAt) / elapsed) * 60_000;
}

/** Events in [from, now] from per-minute buckets, as `throughputOf` counts them. */
export function countSince(buckets: Map<number, number>, from: number, now: number, startedAt = 0): number {
  let total = 0;
  for (const [minute, count] of buckets) {
    if (count <= 0) continue;
    const start = minute * 60_000;
    const end = Math.min(start + 60_000, now);
    const alive = end - Math.max(start, startedAt);
    const inWindow = end - Math.max(start, from);
    if (inWindow <= 0) continue;
    total += alive <= 0 || inWindow >= alive ? count : (count * inWindow) / alive;
  }
  return total;
}

// ---- words ----

const int = new Intl.NumberFormat('en-US');
const fmtInt = (v: number) => int.format(Math.round(v));
const plural = (v: number, one: string, many = `${one}s`) => `${fmtInt(v)} ${v === 1 ? one : many}`;
/** UTC to the minute, as the dashboard shows times. */
export const fmtUtc = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function fmtDuration(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function describeStall(r: StallReason, now = Date.now()): string {
  switch (r.kind) {
    case 'queue_paused':
      return `import queue paused by ${r.by}${r.reason ? ` (${r.reason})` : ''}${r.at ? ` since ${fmtUtc(r.at)}` : ''}${r.by === 'an operator' ? ': resume it in Bull Board' : ''}`;
    case 'no_worker':
      return 'no import worker alive: start one (pnpm worker)';
    case 'upstream_unreachable':
      return `MoneyKit unreachable: ${plural(r.errors, 'error')} in the last 5 min, ${r.lastImportAt ? `nothing imported for ${fmtDuration((now - r.lastImportAt) / 1000)}` : 'nothing imported yet'}${r.lastError ? ` (last: ${r.lastError})` : ''}`;
    case 'connections_without_job':
      return `${plural(r.connections, 'connection')} pending with no import job: run the same \`mk-migrate run\` again to enqueue them`;
    case 'producer_stopped':
      return `the producer stopped at dump line ${fmtInt(r.line)}${r.error ? ` (${r.error})` : ` (no sign of it since ${fmtUtc(r.at)})`}: run the same command again to resume`;
  }
}

export function describeRunState(
  state: RunStateName,
  stalled: StallReason[],
  s: Pick<RunSignals, 'counts' | 'rejects'>,
  now = Date.now(),
): string {
  switch (state) {
    case 'running':
      return 'running';
    case 'completed':
      return 'completed';
    case 'completed_with_failures': {
      const parts = [
        n(s.counts, 'failed') > 0 && `${fmtInt(n(s.counts, 'failed'))} failed`,
        s.rejects > 0 && plural(s.rejects, 'record') + ' rejected',
      ].filter(Boolean);
      return `completed with failures: ${parts.join(', ')}`;
    }
    case 'stalled':
      return `stalled: ${stalled.map((r) => describeStall(r, now)).join('; ')}`;
  }
}

/** The state's name for people ('completed with failures'); the JSON and metric label keep the identifier. */
export const runStateLabel = (state: RunStateName) => state.replace(/_/g, ' ');
