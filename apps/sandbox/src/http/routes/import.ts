/** POST /links/import and POST /links/{id}/import/transactions: 1 MB bodies, synchronous, not idempotent. */
import { MAX_REQUEST_BYTES, importLinkRequestSchema, importTransactionsRequestSchema } from '@mk/shared';
import type { FastifyInstance } from 'fastify';
import { importLatencyMs } from '../../options';
import type { SandboxState } from '../../state';
import type { Timers } from '../../util/timers';
import { applyPostFault } from '../api-guard';
import { validationProblem } from '../problems';

export function importRoutes(app: FastifyInstance, state: SandboxState, timers: Timers): void {
  const latency = (bytes: number) => timers.sleep(importLatencyMs(state.options.latency, bytes));

  app.post(
    '/links/import',
    { bodyLimit: MAX_REQUEST_BYTES, config: { endpoint: 'import' } },
    async (request, reply) => {
      const parsed = importLinkRequestSchema.safeParse(request.body);
      if (!parsed.success) throw validationProblem(parsed.error);
      await latency(request.bodyBytes);
      const link = state.importLink(parsed.data);
      if (applyPostFault(state.faults.afterCommit('import'), request, reply)) return reply;
      return reply.code(200).send(state.render(link));
    },
  );

  app.post<{ Params: { id: string } }>(
    '/links/:id/import/transactions',
    { bodyLimit: MAX_REQUEST_BYTES, config: { endpoint: 'import_transactions' } },
    async (request, reply) => {
      const link = state.requireLink(request.params.id);
      const parsed = importTransactionsRequestSchema.safeParse(request.body);
      if (!parsed.success) throw validationProblem(parsed.error);
      state.checkTransactionAccounts(link, parsed.data.transactions);
      await latency(request.bodyBytes);
      state.importTransactions(link, parsed.data.transactions);
      if (applyPostFault(state.faults.afterCommit('import_transactions'), request, reply)) return reply;
      return reply.code(200).send(state.render(link));
    },
  );
}
