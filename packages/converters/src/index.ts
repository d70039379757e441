export * from './types';
export { convertRecord, sourceIdOf } from './convert';
export { detectFormat } from './detect';
export { parseJsonPreservingNumbers, JsonInputError, DEFAULT_MAX_DEPTH, type ParseJsonOptions } from './json';
export { toDecimal, negateDecimal, absDecimal, isZeroDecimal, DecimalError } from './decimal';
export * as fixtures from './fixtures';
export {
  assembleSavedUser,
  RESPONSE_ENDPOINTS,
  RESPONSE_SOURCES,
  type ResponseSource,
  type SavedUser,
  type Pages,
} from './responses';
