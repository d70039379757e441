/**
 * Cross-site request refusal for every state-changing request (Bull Board's API included): a browser names the
 * page that sent a request in `Origin` (and `Sec-Fetch-Site`); anything but this dashboard's own origin is refused.
 * Requests without either header come from scripts (curl), which carry no victim's cookie.
 */
import type { FastifyRequest } from 'fastify';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why the request is refused as cross-site, or undefined when it may go on. */
export function crossSiteReason(req: FastifyRequest): string | undefined {
  if (SAFE_METHODS.has(req.method)) return undefined;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // req.protocol and req.host follow X-Forwarded-* only when DASHBOARD_TRUST_PROXY trusts the proxy.
    return origin === `${req.protocol}://${req.host}`
      ? undefined
      : `Origin ${origin.slice(0, 100)} is not this dashboard`;
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return `Sec-Fetch-Site is ${String(site).slice(0, 20)}`;
  return undefined;
}
