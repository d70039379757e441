/** The run pages and their JSON twins: /runs, /runs/:id, /api/runs, /api/runs/:id, /api/refresh. */
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../auth/credentials';
import { notFoundPage, runPage, runsPage } from '../views/runs';
import { runView } from './progress';
import { CHART_MINUTES, type RefreshStatusSource, type RunStatusSource } from './types';

export interface StatusRoutesOptions {
  runs: RunStatusSource;
  refresh?: RefreshStatusSource;
  boardPath: string;
}

export function registerStatusRoutes(app: FastifyInstance, opts: StatusRoutesOptions): void {
  const { runs, refresh, boardPath } = opts;
  const ctx = (principal: Principal | null) => ({ principal: principal ?? undefined, boardPath });

  app.get('/', async (_req, reply) => reply.redirect('/runs'));

  app.get('/runs', async (req, reply) => {
    const [all, stats] = await Promise.all([runs.listRuns(), refresh?.stats()]);
    const now = Date.now();
    return reply.type('text/html').send(
      runsPage(
        ctx(req.principal),
        all.map((r) => runView(r, now)),
        stats,
      ),
    );
  });

  app.get<{ Params: { id: string } }>('/runs/:id', async (req, reply) => {
    const run = await runs.getRun(req.params.id);
    if (!run)
      return reply
        .code(404)
        .type('text/html')
        .send(notFoundPage(ctx(req.principal), `There is no run "${req.params.id}".`));
    const refreshHistory = await refresh?.history?.(run.history?.minutes.length || CHART_MINUTES);
    return reply.type('text/html').send(runPage(ctx(req.principal), runView(run), refreshHistory));
  });

  app.get('/api/runs', async () => {
    const now = Date.now();
    return { runs: (await runs.listRuns()).map((r) => runView(r, now)) };
  });

  app.get<{ Params: { id: string } }>('/api/runs/:id', async (req, reply) => {
    const run = await runs.getRun(req.params.id);
    if (!run) return reply.code(404).send({ error: 'not_found', message: `no run ${req.params.id}` });
    return runView(run);
  });

  app.get('/api/refresh', async (_req, reply) => {
    if (!refresh)
      return reply.code(503).send({ error: 'unavailable', message: 'refresh status is not wired into this dashboard' });
    return refresh.stats();
  });
}
