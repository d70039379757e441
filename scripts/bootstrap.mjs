#!/usr/bin/env node
// Installs what the demo and the tests need on a fresh machine: pnpm, the workspace's packages, redis-server
// (unless REDIS_URL points at one), postgresql for the PostgreSQL source's tests, promtool (Debian's prometheus
// package) for the alert-rule tests and, for the browser test, Debian's chromium. Idempotent and quiet when all is there.
import { execSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const wantBrowser = process.argv.includes('--browser');
const PNPM = 'pnpm@10.34.9';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const run = (cmd) => {
  console.log(`[bootstrap] ${cmd}`);
  execSync(cmd, { cwd: root, stdio: 'inherit' });
};
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let aptUpdated = false;
const aptInstall = (pkgs) => {
  if (!isRoot || !has('apt-get')) {
    console.error(`[bootstrap] please install: ${pkgs} (no root apt-get here)`);
    process.exit(1);
  }
  if (!aptUpdated) run('apt-get update -qq');
  aptUpdated = true;
  run(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${pkgs}`);
};

if (!has('pnpm')) run(`npm install -g ${PNPM} --no-fund --no-audit --loglevel=error`);

const marker = path.join(root, 'node_modules', '.modules.yaml');
const lock = path.join(root, 'pnpm-lock.yaml');
const stale = !fs.existsSync(marker) || fs.statSync(lock).mtimeMs > fs.statSync(marker).mtimeMs;
if (stale) run(`pnpm install --frozen-lockfile --reporter=append-only${process.env.CI ? '' : ' --prefer-offline'}`);

if (!process.env.REDIS_URL && !has('redis-server')) aptInstall('redis-server');
// The test suite checks infra/prometheus with promtool; --browser is what `npm test` passes.
if (wantBrowser && !has('promtool')) aptInstall('prometheus');
// The PostgreSQL source's tests start their own server (packages/testkit/src/postgres-server.ts).
const hasPostgres =
  has('initdb') ||
  (fs.existsSync('/usr/lib/postgresql') &&
    fs.readdirSync('/usr/lib/postgresql').some((v) => fs.existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)));
if (!hasPostgres) aptInstall('postgresql');
if (wantBrowser && !fs.existsSync('/usr/bin/chromium')) aptInstall('chromium');
