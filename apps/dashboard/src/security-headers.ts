/**
 * Response headers through @fastify/helmet. The CSP allows only this dashboard's own scripts; styles may be inline
 * (the pages' <style> block, Bull Board's React style attributes). Bull Board's Google Fonts link is refused on
 * purpose: no third party learns who opens the dashboard (the UI falls back to system fonts). HSTS only when the
 * dashboard is served over HTTPS (DASHBOARD_COOKIE_SECURE): sent over plain HTTP it would lock browsers out.
 */
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export async function installSecurityHeaders(app: FastifyInstance, opts: { https: boolean }): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { ...CONTENT_SECURITY_POLICY, ...(opts.https ? { upgradeInsecureRequests: [] } : {}) },
    },
    strictTransportSecurity: opts.https ? { maxAge: 180 * 24 * 3600, includeSubDomains: true } : false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (!req.url.startsWith('/static') && !req.url.includes('/static/')) reply.header('cache-control', 'no-store');
    return payload;
  });
}
