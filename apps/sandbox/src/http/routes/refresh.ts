/** POST /links/{id}/products: asynchronous refresh under per-link, per-product quotas. */
import { refreshProductsRequestSchema } from '@mk/shared';
import type { FastifyInstance } from 'fastify';
import type { SandboxState } from '../../state';
import { validationProblem } from '../problems';

export function refreshRoutes(app: FastifyInstance, state: SandboxState): void {
  app.post<{ Params: { id: string } }>(
    '/links/:id/products',
    { config: { endpoint: 'refresh' } },
    async (request, reply) => {
      const parsed = refreshProductsRequestSchema.safeParse(request.body);
      if (!parsed.success) throw validationProblem(parsed.error);
      const link = state.refresh(request.params.id, parsed.data.products);
      return reply.code(202).send(state.render(link));
    },
  );
}
