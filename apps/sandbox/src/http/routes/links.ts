/** Reading, updating and deleting links, and what landed in them. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { renderAccount, renderTransaction } from '../../domain/render';
import type { SandboxState } from '../../state';
import { ApiProblem, validationProblem } from '../problems';

type IdParams = { Params: { id: string } };

const updateLinkSchema = z.object({
  webhook: z.string().min(1).max(65_536).url().nullable().optional(),
  link_tags: z.array(z.string()).optional(),
});

const accountIdsSchema = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]));
const transactionsQuerySchema = z.object({
  account_ids: accountIdsSchema,
  page: z.coerce.number().int().min(1).default(1),
  size: z.coerce.number().int().min(1).max(1000).default(50),
  start_date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
  end_date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
});

function queryProblem(error: z.ZodError): ApiProblem {
  const problem = validationProblem(error);
  for (const v of problem.extra.validation_errors ?? []) v.location[0] = 'query';
  return problem;
}

export function linkRoutes(app: FastifyInstance, state: SandboxState): void {
  app.get<IdParams>('/links/:id', { config: { endpoint: 'get_link' } }, async (request) =>
    state.render(state.requireLink(request.params.id)),
  );

  app.patch<IdParams>('/links/:id', { config: { endpoint: 'update_link' } }, async (request) => {
    const parsed = updateLinkSchema.safeParse(request.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    return state.render(state.updateLink(request.params.id, parsed.data));
  });

  // The record is kept (state 'deleted'), but every link route answers 410 from now on.
  app.delete<IdParams>('/links/:id', { config: { endpoint: 'delete_link' } }, async (request, reply) => {
    state.deleteLink(request.params.id);
    return reply.code(204).send();
  });

  // Live links only: a deleted link's id "is no longer valid" (MoneyKit docs), so it leaves the user's map.
  app.get<IdParams>('/users/:id/links', { config: { endpoint: 'user_links' } }, async (request) => {
    const links: Record<string, unknown> = {};
    for (const link of state.links.liveLinksOfUser(request.params.id)) links[link.id] = state.render(link);
    return { links };
  });

  app.get<IdParams & { Querystring: Record<string, unknown> }>(
    '/links/:id/accounts',
    { config: { endpoint: 'accounts' } },
    async (request) => {
      const link = state.requireLink(request.params.id);
      const parsed = z.object({ account_ids: accountIdsSchema }).safeParse(request.query);
      if (!parsed.success) throw queryProblem(parsed.error);
      const wanted = parsed.data.account_ids && new Set(parsed.data.account_ids);
      const accounts = link.accounts.filter((a) => !wanted || wanted.has(a.id)).map(renderAccount);
      return { accounts, link: state.render(link) };
    },
  );

  app.get<IdParams & { Querystring: Record<string, unknown> }>(
    '/links/:id/transactions',
    { config: { endpoint: 'transactions' } },
    async (request) => {
      const link = state.requireLink(request.params.id);
      const parsed = transactionsQuerySchema.safeParse(request.query);
      if (!parsed.success) throw queryProblem(parsed.error);
      const { account_ids, page, size, start_date, end_date } = parsed.data;
      const wanted = account_ids && new Set(account_ids);
      const matching = link.transactions.filter(
        (t) =>
          (!wanted || wanted.has(t.accountId)) &&
          (!start_date || t.date >= start_date) &&
          (!end_date || t.date <= end_date),
      );
      const accounts = link.accounts.filter((a) => !wanted || wanted.has(a.id)).map(renderAccount);
      const transactions = matching.slice((page - 1) * size, page * size).map(renderTransaction);
      return { total: matching.length, page, size, transactions, accounts, link: state.render(link) };
    },
  );
}
