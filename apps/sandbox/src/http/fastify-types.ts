import type { FaultEndpoint } from '../faults/faults';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on every API route: it needs a bearer token and may be hit by faults aimed at this endpoint. */
    endpoint?: FaultEndpoint;
  }
  interface FastifyRequest {
    /** Exact size of the raw JSON body, as the 1 MB rule measures it. */
    bodyBytes: number;
    /** Set by the timeout fault: answer only after this long. */
    faultDelayMs: number;
  }
}

export {};
