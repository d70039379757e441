/**
 * Saved API responses, read as the aggregator returned them: one folder per source user (and per connection where
 * the source has one), one JSON file per endpoint and page. These functions turn one user's pages into the
 * per-user envelope the source's converter reads (sources/*.ts), so every conversion rule stays in one place.
 * Walking the folder is the producer's job; here a user is already `{ id, endpoints, connections }`.
 */
import { fail, isObject, type Json } from '../read';
import type { SourceFormat } from '../types';
import { assemblePlaid } from './plaid';
import { assembleYodlee, assembleMx, assembleFinicity, assembleAkoya } from './others';

/** An endpoint's pages in page order (`transactions_get.json`, or `transactions_get.1.json`, `.2.json`, ...). */
export type Pages = Map<string, { file: string; body: unknown }[]>;

export interface SavedUser {
  /** The user folder's name: the source user id. */
  id: string;
  /** Files directly in the user folder, by endpoint. */
  endpoints: Pages;
  /** Sub-folders (Plaid items, Akoya providers), by folder name. */
  connections: Map<string, Pages>;
}

/** The sources whose saved responses are read, and the endpoint file names each takes (the README's layout). */
export const RESPONSE_ENDPOINTS = {
  plaid: {
    user: [],
    connection: ['item_get', 'accounts_get', 'auth_get', 'identity_get', 'transactions_get', 'transactions_sync'],
  },
  yodlee: { user: ['user', 'accounts', 'transactions', 'provider_accounts'], connection: [] },
  mx: { user: ['user', 'members', 'accounts', 'transactions'], connection: [] },
  finicity: { user: ['customer', 'accounts', 'transactions'], connection: [] },
  akoya: { user: ['user'], connection: ['accounts', 'balances', 'transactions'] },
} as const satisfies Partial<Record<SourceFormat, { user: readonly string[]; connection: readonly string[] }>>;
export type ResponseSource = keyof typeof RESPONSE_ENDPOINTS;
export const RESPONSE_SOURCES = Object.keys(RESPONSE_ENDPOINTS) as ResponseSource[];

const ASSEMBLERS: Record<ResponseSource, (u: SavedUser) => Json> = {
  plaid: assemblePlaid,
  yodlee: assembleYodlee,
  mx: assembleMx,
  finicity: assembleFinicity,
  akoya: assembleAkoya,
};

/** One user's saved responses → the source's envelope (throws RecordError naming the file at fault). */
export function assembleSavedUser(source: ResponseSource, user: SavedUser): Json {
  const known = RESPONSE_ENDPOINTS[source];
  const unknown = (pages: Pages, allowed: readonly string[], where: string) => {
    for (const [endpoint, list] of pages) {
      if (!(allowed as readonly string[]).includes(endpoint))
        fail(
          list[0]!.file,
          `is not an endpoint file ${source} ${where} holds (expected ${allowed.join(', ') || 'none'}${where === 'user folder' && known.connection.length ? ', or one folder per connection' : ''})`,
        );
    }
  };
  unknown(user.endpoints, known.user, 'user folder');
  for (const [, pages] of user.connections) unknown(pages, known.connection, 'connection folder');
  if (known.connection.length === 0 && user.connections.size > 0)
    fail(`${source}/${user.id}`, `holds sub-folders, but ${source} responses are per user (no connection folders)`);
  return ASSEMBLERS[source](user);
}

// ---- shared helpers for the assemblers ----

/** The one body of a single-page endpoint, or undefined when the file is absent. */
export function single(pages: Pages, endpoint: string): { file: string; body: Json } | undefined {
  const list = pages.get(endpoint);
  if (!list) return undefined;
  if (list.length > 1) fail(list[1]!.file, `${endpoint} is a single response, not pages`);
  const { file, body } = list[0]!;
  if (!isObject(body)) fail(file, 'expected a JSON object (the response as returned)');
  return { file, body };
}

/** Every page's array under `key`, concatenated in page order. */
export function concatPages(pages: Pages, endpoint: string, key: string): unknown[] {
  const out: unknown[] = [];
  for (const { file, body } of pages.get(endpoint) ?? []) {
    if (!isObject(body)) fail(file, 'expected a JSON object (the response as returned)');
    const items = body[key];
    if (items === undefined || items === null) continue;
    if (!Array.isArray(items)) fail(`${file}: ${key}`, 'expected an array');
    out.push(...items);
  }
  return out;
}
