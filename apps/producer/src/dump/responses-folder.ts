/**
 * `--layout responses <dir>`: saved API responses as the aggregator returned them.
 *
 *   <dir>/<source>/<user>/<endpoint>[.<page>].json            Yodlee, MX, Finicity (per user)
 *   <dir>/<source>/<user>/<connection>/<endpoint>[.<page>].json  Plaid items, Akoya providers
 *
 * Users are read in name order (source, then user folder), the n-th user standing for the n-th line of a dump:
 * rejects name it, and a resumed run skips the users before it. A user folder that cannot be read is rejected
 * with the file and reason; the rest goes on. A folder with nothing of that layout stops at once, saying what it
 * found there. The endpoint files each source takes: RESPONSE_ENDPOINTS (@mk/converters); README has a tree per source.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_MAX_DEPTH,
  JsonInputError,
  RESPONSE_ENDPOINTS,
  RESPONSE_SOURCES,
  RecordError,
  assembleSavedUser,
  parseJsonPreservingNumbers,
  type Pages,
  type ResponseSource,
  type SavedUser,
} from '@mk/converters';
import { DumpReadError } from './open-input';
import { convertParsed, type DumpEntry, type ReadDumpOptions } from './read-dump';

const PAGE_FILE = /^([a-z_]+?)(?:\.(\d+))?\.json$/;
const SHOWN = 5;

function list(dir: string): fs.Dirent[] {
  return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What a folder holds, for the message when it is not of this layout. */
function describeFolder(dir: string, entries: fs.Dirent[]): string {
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  const files = entries.filter((e) => e.isFile()).map((e) => e.name);
  const names = (xs: string[]) =>
    xs.length ? `: ${xs.slice(0, SHOWN).join(', ')}${xs.length > SHOWN ? ', …' : ''}` : '';
  const endpointLike = files.filter((f) => PAGE_FILE.test(f)).map((f) => PAGE_FILE.exec(f)![1]!);
  const guess = RESPONSE_SOURCES.find((s) =>
    endpointLike.some(
      (e) =>
        (RESPONSE_ENDPOINTS[s].user as readonly string[]).includes(e) ||
        (RESPONSE_ENDPOINTS[s].connection as readonly string[]).includes(e),
    ),
  );
  const hint = guess
    ? `; its files look like one user's ${guess} responses: put them in ${dir}/${guess}/<user id>/`
    : '';
  return `found ${files.length} files${names(files)} and ${folders.length} folders${names(folders)}${hint}`;
}

/** Pages of the endpoint files in one folder; sub-folders returned apart. Throws RecordError naming a stray file. */
function readPages(
  dir: string,
  rel: string,
  opts: ReadDumpOptions,
): { pages: Pages; folders: string[]; bytes: number } {
  const byEndpoint = new Map<string, { page: number; file: string; body: unknown }[]>();
  const folders: string[] = [];
  let bytes = 0;
  for (const e of list(dir)) {
    if (e.isDirectory()) {
      folders.push(e.name);
      continue;
    }
    const file = `${rel}/${e.name}`;
    const m = PAGE_FILE.exec(e.name);
    if (!m)
      throw new RecordError(
        `${file}: not an endpoint file (expected <endpoint>.json or <endpoint>.<page>.json)`,
        undefined,
        file,
      );
    const text = fs.readFileSync(path.join(dir, e.name), 'utf8');
    bytes += Buffer.byteLength(text);
    let body: unknown;
    try {
      body = parseJsonPreservingNumbers(text, { maxDepth: opts.maxDepth ?? DEFAULT_MAX_DEPTH });
    } catch (err) {
      if (err instanceof JsonInputError) throw new RecordError(`${file}: ${err.reason}`, undefined, file);
      throw err;
    }
    const list = byEndpoint.get(m[1]!) ?? [];
    list.push({ page: m[2] === undefined ? 0 : Number(m[2]), file, body });
    byEndpoint.set(m[1]!, list);
  }
  const pages: Pages = new Map();
  for (const [endpoint, items] of byEndpoint)
    pages.set(
      endpoint,
      items.sort((a, b) => a.page - b.page).map(({ file, body }) => ({ file, body })),
    );
  return { pages, folders, bytes };
}

function readUser(
  source: ResponseSource,
  root: string,
  id: string,
  opts: ReadDumpOptions,
): { user: SavedUser; bytes: number } {
  const rel = `${source}/${id}`;
  const top = readPages(path.join(root, source, id), rel, opts);
  const connections = new Map<string, Pages>();
  let bytes = top.bytes;
  for (const folder of top.folders) {
    const sub = readPages(path.join(root, source, id, folder), `${rel}/${folder}`, opts);
    if (sub.folders.length)
      throw new RecordError(
        `${rel}/${folder}/${sub.folders[0]}: a folder inside a connection folder (the layout is <source>/<user>/<connection>/<endpoint>.json)`,
      );
    connections.set(folder, sub.pages);
    bytes += sub.bytes;
  }
  return { user: { id, endpoints: top.pages, connections }, bytes };
}

export async function* readResponsesFolder(dir: string, opts: ReadDumpOptions = {}): AsyncGenerator<DumpEntry> {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new DumpReadError(`cannot read '${dir}': no such folder`);
  if (!stat.isDirectory())
    throw new DumpReadError(
      `'${dir}' is a file; --layout responses reads a folder of saved API responses (without --layout, a file is read as NDJSON)`,
    );
  const entries = list(dir);
  const sources = entries
    .filter((e) => e.isDirectory() && (RESPONSE_SOURCES as string[]).includes(e.name))
    .map((e) => e.name as ResponseSource);
  if (sources.length === 0) {
    throw new DumpReadError(
      `'${dir}' is not a folder of saved responses: expected a folder per source (${RESPONSE_SOURCES.join(', ')}) holding a folder per user; ${describeFolder(dir, entries)}`,
    );
  }
  let n = 0;
  let inputBytes = 0;
  for (const source of sources) {
    for (const userDir of list(path.join(dir, source))) {
      if (!userDir.isDirectory()) continue;
      n++;
      if (n <= (opts.startAfterLine ?? 0)) continue;
      const id = userDir.name;
      let entry: DumpEntry;
      try {
        const { user, bytes } = readUser(source, dir, id, opts);
        inputBytes += bytes;
        entry = {
          line: n,
          bytes,
          inputBytes,
          result: convertParsed(assembleSavedUser(source, user), { ...opts, format: source }),
        };
      } catch (e) {
        if (!(e instanceof RecordError)) throw e;
        entry = { line: n, bytes: 0, inputBytes, result: { ok: false, reason: e.reason, sourceId: id } };
      }
      yield entry;
    }
  }
  if (n === 0)
    throw new DumpReadError(
      `'${dir}' has source folders (${sources.join(', ')}) but no user folder in them: expected <source>/<user id>/<endpoint>.json`,
    );
}
