/**
 * Contract checks against the project's own MoneyKit contract, `../contract/moneykit-contract.openapi.json`
 * (OpenAPI 3.1: its schemas are JSON Schema 2020-12). Used by the sandbox's and the client's tests: what passes here is what MoneyKit
 * documents. The path can be a template (`/links/{id}/products`) or a concrete path (`/links/mk_x/products`).
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

export interface ContractCheck {
  valid: boolean;
  /** Readable reasons, empty when valid: `expect(check.errors).toEqual([])` shows them on failure. */
  errors: string[];
  /** What the body was checked against (a component name, `inline`, or `none`). */
  schema: string;
  /** False when the contract does not declare this status for the operation (then checked as an error envelope). */
  declared: boolean;
}

type Json = Record<string, unknown>;
interface MediaType {
  schema?: Json;
}
interface Operation {
  requestBody?: { content?: Record<string, MediaType> };
  responses?: Record<string, { content?: Record<string, MediaType> }>;
}

const CONTRACT_FILE = 'moneykit-contract.openapi.json';
const ROOT_ID = 'mk-contract';

/** MoneyKit's envelope, for statuses an operation does not declare (413, 500, 422 on import...). */
const FALLBACK_ERROR = {
  type: 'object',
  required: ['error_code', 'error_message', 'documentation_url'],
  properties: {
    error_code: { type: 'string', minLength: 1 },
    error_message: { type: 'string' },
    documentation_url: { type: 'string' },
  },
};

/** The contract lives in this package: a fresh clone tests itself against it. */
export function contractPath(): string {
  return path.join(__dirname, '..', 'contract', CONTRACT_FILE);
}

/** `#/components/schemas/X` → `mk-contract#/$defs/X`, so every schema resolves against one registered root. */
function rewriteRefs<T>(node: T): T {
  if (Array.isArray(node)) return node.map(rewriteRefs) as T;
  if (node && typeof node === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] =
        k === '$ref' && typeof v === 'string'
          ? v.replace('#/components/schemas/', `${ROOT_ID}#/$defs/`)
          : rewriteRefs(v);
    }
    return out as T;
  }
  return node;
}

class Contract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly paths: Record<string, Record<string, Operation>>;
  private readonly templates: Array<{ template: string; pattern: RegExp }>;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(doc: {
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, Json> };
  }) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: ROOT_ID, $defs: rewriteRefs(doc.components.schemas) });
    this.paths = doc.paths;
    this.templates = Object.keys(doc.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
  }

  operation(method: string, pathOrTemplate: string): Operation {
    const template = this.paths[pathOrTemplate]
      ? pathOrTemplate
      : this.templates.find((t) => t.pattern.test(pathOrTemplate.split('?')[0]!))?.template;
    const op = template ? this.paths[template]?.[method.toLowerCase()] : undefined;
    if (!op) throw new Error(`the contract has no operation ${method.toUpperCase()} ${pathOrTemplate}`);
    return op;
  }

  check(schema: Json | undefined, body: unknown, declared: boolean): ContractCheck {
    if (!schema) return { valid: true, errors: [], schema: 'none', declared };
    const name = typeof schema.$ref === 'string' ? schema.$ref.split('/').pop()! : 'inline';
    const key = JSON.stringify(schema);
    let validate = this.cache.get(key);
    if (!validate) {
      validate = this.ajv.compile(rewriteRefs(schema));
      this.cache.set(key, validate);
    }
    const valid = validate(body) as boolean;
    const errors = valid
      ? []
      : (validate.errors ?? []).map(
          (e) =>
            `${e.instancePath || '(body)'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
        );
    return { valid, errors, schema: name, declared };
  }
}

let loaded: Contract | undefined;
function contract(): Contract {
  loaded ??= new Contract(JSON.parse(fs.readFileSync(contractPath(), 'utf8')));
  return loaded;
}

function jsonSchemaOf(content: Record<string, MediaType> | undefined): Json | undefined {
  if (!content) return undefined;
  return (content['application/json'] ?? content['application/x-www-form-urlencoded'] ?? Object.values(content)[0])
    ?.schema;
}

/** Checks a response body against the schema the contract declares for this status (exact, `4XX`-style, or `default`). */
export function validateResponse(method: string, pathTemplate: string, status: number, body: unknown): ContractCheck {
  const c = contract();
  const responses = c.operation(method, pathTemplate).responses ?? {};
  const declared = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
  // MoneyKit is a FastAPI service: any operation with a body or parameters can answer 422 HTTPValidationError,
  // although the reconstructed contract lists only the link errors under 422.
  if (status === 422 && (body as Json | null)?.error_code === 'api_error.request.validation_failed') {
    return c.check({ $ref: '#/components/schemas/HTTPValidationError' }, body, Boolean(declared));
  }
  if (declared) return c.check(jsonSchemaOf(declared.content), body, true);
  return { ...c.check(FALLBACK_ERROR, body, false), schema: 'error envelope' };
}

/** Checks a request body against the operation's requestBody schema. */
export function validateRequest(method: string, pathTemplate: string, body: unknown): ContractCheck {
  const c = contract();
  return c.check(jsonSchemaOf(c.operation(method, pathTemplate).requestBody?.content), body, true);
}

/** Checks a webhook body against AppLinkStateChangedWebhook / ProductStateChangedWebhook / TransactionUpdatesAvailableWebhook. */
export function validateWebhook(body: unknown): ContractCheck {
  const event = (body as Json | null)?.webhook_event;
  const name =
    event === 'link.state_changed'
      ? 'AppLinkStateChangedWebhook'
      : event === 'link.product_refresh'
        ? 'ProductStateChangedWebhook'
        : 'TransactionUpdatesAvailableWebhook';
  return contract().check({ $ref: `#/components/schemas/${name}` }, body, true);
}
