/**
 * Contract tests: every request the client sends — path, method, headers, body — must validate against the
 * MoneyKit contract (packages/testkit/contract/moneykit-contract.openapi.json) through @mk/testkit's validateRequest.
 * Bodies are captured on the wire by a scripted server. The contract's objects allow extra keys; a strict copy
 * (additionalProperties: false) also proves the client sends nothing the contract does not name.
 */
import { readFileSync } from 'node:fs';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { MONEYKIT_API_VERSION } from '@mk/shared';
import { contractPath, validateRequest } from '@mk/testkit';
import { MoneyKitClient } from '../src';
import { anImportRequest } from './support/fixtures';
import {
  aLink,
  CLIENT_ID,
  CLIENT_SECRET,
  sendJson,
  startScriptedServer,
  type RecordedRequest,
  type ScriptedServer,
} from './support/scripted-server';

type Json = Record<string, unknown>;
const contract = JSON.parse(readFileSync(contractPath(), 'utf8')) as { paths: Record<string, Record<string, Json>> };

/** A deep copy whose object schemas with named properties refuse any other key. */
function strictCopy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictCopy);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = strictCopy(v);
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined)
    out.additionalProperties = false;
  return out;
}

function compiler(doc: unknown, id: string) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...(doc as Json), $id: id });
  return (pointer: string): ValidateFunction => {
    const validate = ajv.getSchema(`${id}#${pointer}`);
    if (!validate) throw new Error(`no schema at ${pointer}`);
    return validate;
  };
}
const strict = compiler(strictCopy(contract), 'strict');

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

function operationOf(req: RecordedRequest): { template: string; method: string; op: Json } {
  const path = req.url.split('?')[0]!;
  for (const [template, ops] of Object.entries(contract.paths)) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}$`);
    const method = req.method.toLowerCase();
    if (re.test(path) && ops[method]) return { template, method, op: ops[method] };
  }
  throw new Error(`${req.method} ${path} is not in the contract`);
}

/** Errors of `req` against the contract (empty = valid). */
function contractErrors(req: RecordedRequest): string[] {
  const { template, method, op } = operationOf(req);
  const errors: string[] = [];
  const content = (op.requestBody as { content?: Record<string, unknown> } | undefined)?.content;
  if (!content) {
    if (req.bytes > 0) errors.push(`${method.toUpperCase()} ${template} takes no body`);
    return errors;
  }
  const mediaType = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim();
  if (!(mediaType in content))
    return [`${template}: content-type ${mediaType} is not one of ${Object.keys(content).join(', ')}`];
  const body =
    mediaType === 'application/x-www-form-urlencoded'
      ? Object.fromEntries(new URLSearchParams(req.body))
      : JSON.parse(req.body);
  errors.push(...validateRequest(method, template, body).errors.map((e) => `${template} ${e}`));
  const strictValidate = strict(`/paths/${escape(template)}/${method}/requestBody/content/${escape(mediaType)}/schema`);
  if (!strictValidate(body))
    errors.push(...(strictValidate.errors ?? []).map((e) => `${template} ${e.instancePath} ${e.message} (strict)`));
  return errors;
}

let server: ScriptedServer;
let client: MoneyKitClient;

beforeAll(async () => {
  server = await startScriptedServer();
  server.handle((req, res) => {
    if (req.url.startsWith('/users/')) return sendJson(res, 200, { links: { l1: aLink('l1') } });
    if (req.url === '/links/l1/accounts') return sendJson(res, 200, { accounts: [], link: aLink('l1') });
    if (req.url.startsWith('/links/l1/transactions?'))
      return sendJson(res, 200, { total: 0, page: 1, size: 50, transactions: [], accounts: [], link: aLink('l1') });
    if (req.method === 'DELETE') return void res.writeHead(204).end();
    if (req.url === '/.well-known/jwks.json') return sendJson(res, 200, { keys: [] });
    return sendJson(res, req.url.endsWith('/products') ? 202 : 200, aLink('l1'));
  });
  client = new MoneyKitClient({ baseUrl: server.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  await client.importLink(anImportRequest('user-contract-1', 3));
  await client.importLink({ ...anImportRequest('user-contract-2', 0), provider: undefined }); // optional fields left out
  await client.importTransactions('l1', { transactions: anImportRequest('user-contract-1', 5).transactions });
  await client.refreshProducts('l1', ['accounts', 'transactions', 'identity', 'account_numbers']);
  await client.getLink('l1');
  await client.getUserLinks('user-contract-1');
  await client.getLinkAccounts('l1');
  await client.getLinkTransactions('l1', { page: 1, size: 50 });
  await client.deleteLink('l1');
  await client.getJwks();
});
afterAll(async () => {
  client.close();
  await server.close();
});

describe('the client speaks the contract', () => {
  it('sends only operations the contract declares', () => {
    const sent = [...server.tokenRequests, ...server.requests].map((r) => {
      const { template, method } = operationOf(r);
      return `${method} ${template}`;
    });
    expect(new Set(sent)).toEqual(
      new Set([
        'post /auth/token',
        'post /links/import',
        'post /links/{id}/import/transactions',
        'post /links/{id}/products',
        'get /links/{id}',
        'get /users/{id}/links',
        'get /links/{id}/accounts',
        'get /links/{id}/transactions',
        'delete /links/{id}',
        'get /.well-known/jwks.json',
      ]),
    );
  });

  it('every request body validates, strictly (no keys outside the contract)', () => {
    const all = [...server.tokenRequests, ...server.requests];
    expect(all.length).toBe(11); // one token + ten API calls
    for (const req of all)
      expect({ request: `${req.method} ${req.url}`, errors: contractErrors(req) }).toEqual({
        request: `${req.method} ${req.url}`,
        errors: [],
      });
  });

  it('the token request is a client-credentials grant', () => {
    const form = Object.fromEntries(new URLSearchParams(server.tokenRequests[0]!.body));
    expect(form.grant_type).toBe('client_credentials');
  });

  it('authenticated operations carry a bearer token and every request the API version', () => {
    for (const req of [...server.tokenRequests, ...server.requests]) {
      expect(req.headers['moneykit-version']).toBe(MONEYKIT_API_VERSION);
      const { op } = operationOf(req);
      const security = (op.security as Array<Record<string, unknown>> | undefined) ?? [];
      if (security.some((s) => 'OAuth2ClientCredentials' in s))
        expect(req.headers.authorization).toMatch(/^Bearer \S+$/);
    }
  });

  it('the validator does catch a body that breaks the contract', () => {
    const bad: RecordedRequest = {
      method: 'POST',
      url: '/links/import',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customer_user: { id: 'abc' },
        institution_id: 'x',
        accounts: [],
        transactions: [],
        extra: 1,
      }),
      bytes: 1,
    };
    const errors = contractErrors(bad);
    expect(errors.join('\n')).toMatch(/minLength|fewer than 4/);
    expect(errors.join('\n')).toMatch(/minItems|fewer than 1/);
    expect(errors.join('\n')).toMatch(/additional properties/);
  });
});
