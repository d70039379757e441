/**
 * The MoneyKit endpoints this client calls, by a stable name: errors, logs and metrics carry the name,
 * never the URL (a URL holds ids of links and users).
 */
export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export const ENDPOINTS = {
  auth_token: { method: 'POST', path: '/auth/token', slow: false },
  import_link: { method: 'POST', path: '/links/import', slow: true },
  import_transactions: { method: 'POST', path: '/links/{id}/import/transactions', slow: true },
  refresh_products: { method: 'POST', path: '/links/{id}/products', slow: false },
  get_link: { method: 'GET', path: '/links/{id}', slow: false },
  get_user_links: { method: 'GET', path: '/users/{id}/links', slow: false },
  get_link_accounts: { method: 'GET', path: '/links/{id}/accounts', slow: false },
  get_link_transactions: { method: 'GET', path: '/links/{id}/transactions', slow: false },
  delete_link: { method: 'DELETE', path: '/links/{id}', slow: false },
  get_jwks: { method: 'GET', path: '/.well-known/jwks.json', slow: false },
} as const satisfies Record<string, { method: HttpMethod; path: string; slow: boolean }>;

export type EndpointName = keyof typeof ENDPOINTS;

/** The URL path of an endpoint, with its `{id}` filled in (percent-encoded). */
export function endpointPath(endpoint: EndpointName, id?: string): string {
  const template: string = ENDPOINTS[endpoint].path;
  if (!template.includes('{id}')) return template;
  if (id === undefined || id === '') throw new TypeError(`${endpoint} needs an id`);
  return template.replace('{id}', encodeURIComponent(id));
}
