export {
  readDump,
  convertLine,
  convertParsed,
  DEFAULT_MAX_LINE_BYTES,
  INPUT_LAYOUTS,
  type InputLayout,
  type ReadDumpOptions,
  type DumpEntry,
  type DumpResult,
} from './read-dump';
export { RejectsWriter } from './rejects-writer';
export { DumpReadError, openInput, type DumpSource, type OpenedInput } from './open-input';
export { splitLines, type RawLine } from './lines';
export { readPostgres, redactUrl, isPostgresUrl } from './postgres-source';
