/**
 * The few files the run pages load: uPlot (vendored from node_modules at start, no CDN) and our chart script. Served
 * from the dashboard's own origin, so a Content-Security-Policy of `script-src 'self'` lets them run and nothing else.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

interface Asset {
  file: string;
  type: string;
}

export const STATIC_ASSETS = {
  '/static/uplot.js': {
    file: require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'application/javascript; charset=utf-8',
  },
  '/static/uplot.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  '/static/charts.js': {
    file: path.join(__dirname, 'assets', 'charts.js'),
    type: 'application/javascript; charset=utf-8',
  },
} satisfies Record<string, Asset>;

export function registerStaticAssets(app: FastifyInstance): void {
  for (const [url, asset] of Object.entries(STATIC_ASSETS)) {
    // Read once at start: a missing file is a broken install, better found now than on the first page view.
    const body = fs.readFileSync(asset.file);
    app.get(url, async (_req, reply) =>
      reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(body),
    );
  }
}
