/**
 * Inputs that are not an NDJSON dump at all, told apart from a dump with a few bad lines: CSV, a JSON array, one
 * pretty-printed JSON document, an empty input. Each gets one error saying what was expected and what was found,
 * instead of one reject per line and a run that "succeeds" with nobody in it. Never quotes the content.
 */
import { DumpReadError } from './open-input';

const EXPECTED = 'expected NDJSON: one JSON object per line (gzipped or not)';

/** The whole input is wrong, judged from its first non-blank line (and whether any other follows). */
export function wrongInput(where: string, firstLine: string, onlyLine: boolean): DumpReadError | undefined {
  const head = firstLine.trim();
  if (head === '[' || (onlyLine && head.startsWith('[') && head.endsWith(']'))) {
    return new DumpReadError(
      `${where} is a JSON array, ${EXPECTED}; write each element on its own line (e.g. jq -c '.[]')`,
    );
  }
  if (head === '{' || (head.startsWith('{') && !head.endsWith('}') && onlyLine)) {
    return new DumpReadError(`${where} holds one JSON document over several lines, ${EXPECTED} (e.g. jq -c .)`);
  }
  if (!head.startsWith('{') && !head.startsWith('[') && head.split(',').length >= 2) {
    return new DumpReadError(
      `${where} looks like CSV (its first line has ${head.split(',').length} comma-separated fields, no JSON object), ${EXPECTED}`,
    );
  }
  return undefined;
}

export function emptyInput(where: string): DumpReadError {
  return new DumpReadError(`${where} is empty (no line with a record), ${EXPECTED}`);
}
