/**
 * Two Bull Boards over the same queues: the admin board (every action) and the viewer board, whose queues are in
 * Bull Board's read-only mode (write buttons hidden, writes answered 405). The guard keeps viewers off the admin
 * board; `${boardPath}` sends each user to the board of their role.
 *
 * Import jobs carry their payload sealed (payload-seal.ts): both boards show its summary only, never the sealed
 * text. On the import queue the actions that bypass the service are refused server-side, since Bull Board has no
 * option to hide them: adding a job (non-idempotent, unsealed), editing a job's data, setting a queue rate limit
 * (the worker's own limiter keeps MoneyKit's 60/min) and obliterating the queue.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { QUEUES } from '@mk/shared';

export interface BoardPaths {
  root: string;
  admin: string;
  viewer: string;
}

export const boardPaths = (root: string): BoardPaths => ({ root, admin: `${root}/admin`, viewer: `${root}/viewer` });

/** Bull Board's API routes refused on the import queue (route patterns, under the board's base path). */
const IMPORT_QUEUE_REFUSED_ROUTES = [
  '/api/queues/:queueName/add',
  '/api/queues/:queueName/rate-limit',
  '/api/queues/:queueName/rate-limit/release',
  '/api/queues/:queueName/obliterate',
  '/api/queues/:queueName/:jobId/update-data',
];

/** What a board shows of an import job's data: who and how much, never the sealed payload. */
export function importJobView(data: unknown): Record<string, unknown> {
  const d = (data ?? {}) as Record<string, unknown>;
  return { runId: d.runId, line: d.line, summary: d.summary ?? 'payload hidden' };
}

export async function mountBoards(app: FastifyInstance, queues: Queue[], paths: BoardPaths): Promise<void> {
  const refused = new Set(
    IMPORT_QUEUE_REFUSED_ROUTES.flatMap((route) => [paths.admin, paths.viewer].map((base) => `${base}${route}`)),
  );
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    const queueName = (req.params as { queueName?: string } | undefined)?.queueName;
    if (req.method === 'GET' || !route || !refused.has(route) || queueName !== QUEUES.import) return;
    return reply.code(403).send({
      error: 'forbidden',
      message: 'not on the import queue: the service adds, limits and removes its jobs itself',
    });
  });

  for (const [basePath, readOnlyMode] of [
    [paths.admin, false],
    [paths.viewer, true],
  ] as const) {
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(basePath);
    createBullBoard({
      queues: queues.map((q) => {
        const isImport = q.name === QUEUES.import;
        const adapter = new BullMQAdapter(q, {
          readOnlyMode,
          ...(isImport && {
            description: 'payloads sealed (summary shown); add job, rate limit and obliterate are refused here',
          }),
        });
        if (isImport) adapter.setFormatter('data', importJobView);
        return adapter;
      }),
      serverAdapter,
      options: {
        uiConfig: {
          boardTitle: readOnlyMode ? 'Queues (read-only)' : 'Queues',
          miscLinks: [
            { text: 'Runs', url: '/runs' },
            { text: 'Sign out', url: '/logout' },
          ],
        },
      },
    });
    await app.register(serverAdapter.registerPlugin(), { prefix: basePath });
  }

  app.get(paths.root, async (req, reply) =>
    reply.redirect(req.principal?.role === 'admin' ? `${paths.admin}/` : `${paths.viewer}/`),
  );
}
