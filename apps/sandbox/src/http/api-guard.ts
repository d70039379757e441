/**
 * What happens to every API call before its handler, in the order a real gateway applies it:
 * bearer token → (import calls) arrival counted → injected fault → (import calls) app rate limit → (reads of a
 * link's accounts or the link itself) MoneyKit's read limits.
 * Runs at onRequest, before the body is read, so a refused call costs no parsing.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PostFault } from '../faults/faults';
import type { SandboxState } from '../state';
import type { Timers } from '../util/timers';
import { problems, rateLimited } from './problems';
import type { TokenStore } from './tokens';

export function apiGuard(state: SandboxState, tokens: TokenStore) {
  return async function guard(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const endpoint = request.routeOptions.config.endpoint;
    if (!endpoint) return;
    const authProblem = tokens.check(request.headers.authorization);
    if (authProblem) throw authProblem;
    const isImport = endpoint === 'import' || endpoint === 'import_transactions';
    if (isImport) state.recordImportArrival(endpoint);

    const fault = state.faults.before(endpoint);
    const linkId = (request.params as { id?: string } | undefined)?.id;
    if (linkId && fault.kind !== 'none') state.linkHistory.note(linkId, `${endpoint}: injected ${fault.kind}`);
    switch (fault.kind) {
      case 'rateLimitBurst':
        throw rateLimited(fault.retryAfterSeconds * 1000);
      case 'error5xx':
        throw problems.serverError();
      case 'drop':
        dropConnection(request, reply);
        return;
      case 'timeout':
        // Served late, after the body was read (see delayGuard): a slow call still commits.
        request.faultDelayMs = fault.ms;
        break;
      case 'none':
        break;
    }
    if (isImport) state.admitImportCall();
    if ((endpoint === 'accounts' || endpoint === 'get_link') && linkId) state.admitRead(endpoint, linkId);
  };
}

/** preHandler: a call picked for the timeout fault waits here, with its body already received. */
export function delayGuard(timers: Timers) {
  return async function delay(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.faultDelayMs <= 0) return;
    await timers.sleep(request.faultDelayMs);
    if (timers.isClosed) dropConnection(request, reply);
  };
}

/** Close the socket without a byte of answer: the caller cannot know whether anything happened. */
export function dropConnection(request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  request.raw.socket?.destroy();
}

/** An import that committed, then failed on the way back (the case that makes retries create duplicates). */
export function applyPostFault(fault: PostFault, request: FastifyRequest, reply: FastifyReply): boolean {
  if (fault.kind === 'error5xx') throw problems.serverError();
  if (fault.kind === 'drop') {
    dropConnection(request, reply);
    return true;
  }
  return false;
}
