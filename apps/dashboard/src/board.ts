/**
 * Two Bull Boards over the same queues: the admin board (every action) and the viewer board, whose queues are in
 * Bull Board's read-only mode (write buttons hidden, writes answered 405). The guard keeps viewers off the admin
 * board; `${boardPath}` sends each user to the board of their role.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';

export interface BoardPaths {
  root: string;
  admin: string;
  viewer: string;
}

export const boardPaths = (root: string): BoardPaths => ({ root, admin: `${root}/admin`, viewer: `${root}/viewer` });

export async function mountBoards(app: FastifyInstance, queues: Queue[], paths: BoardPaths): Promise<void> {
  for (const [basePath, readOnlyMode] of [[paths.admin, false], [paths.viewer, true]] as const) {
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(basePath);
    createBullBoard({
      queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode })),
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

  app.get(paths.root, async (req, reply) => reply.redirect(req.principal?.role === 'admin' ? `${paths.admin}/` : `${paths.viewer}/`));
}
