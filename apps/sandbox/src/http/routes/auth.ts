/**
 * POST /auth/token: OAuth2 client credentials, form-encoded, with the credentials in the form or as
 * HTTP Basic. 201 with a bearer token; 400 for another grant type; 401 for wrong credentials.
 */
import type { FastifyInstance } from 'fastify';
import type { SandboxState } from '../../state';
import { ApiProblem, problems } from '../problems';
import type { TokenStore } from '../tokens';

function basicCredentials(header: string | undefined): { id?: string; secret?: string } {
  const match = /^Basic\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return {};
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return {};
  // Credentials are form-encoded before base64 (RFC 6749 §2.3.1); a malformed escape is a wrong credential, not a crash.
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return undefined;
    }
  };
  const id = decode(decoded.slice(0, colon));
  const secret = decode(decoded.slice(colon + 1));
  return id === undefined || secret === undefined ? {} : { id, secret };
}

export function authRoutes(app: FastifyInstance, state: SandboxState, tokens: TokenStore): void {
  app.post('/auth/token', async (request, reply) => {
    const form = (request.body ?? {}) as Record<string, unknown>;
    const field = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
    if (field('grant_type') !== 'client_credentials') {
      // The contract types this 400 with the unauthorized error body.
      throw new ApiProblem(
        400,
        'api_error.auth.unauthorized',
        'Invalid grant_type: only client_credentials is supported',
      );
    }
    state.admitTokenCall();
    const basic = basicCredentials(request.headers.authorization);
    const clientId = basic.id ?? field('client_id');
    const clientSecret = basic.secret ?? field('client_secret');
    if (!tokens.credentialsValid(clientId, clientSecret)) throw problems.unauthorized('Invalid client credentials');
    return reply.code(201).header('cache-control', 'no-store').send(tokens.issue());
  });
}
