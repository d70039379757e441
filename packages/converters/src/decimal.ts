/**
 * Amounts as plain decimal strings ("-12.34"), never through a float.
 * Input is either a JSON number that is exactly representable (see json.ts) or a string holding a
 * decimal literal (quoted by the source, or quoted by parseJsonPreservingNumbers to keep it exact).
 */

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/;
/** Largest number of integer digits accepted: nothing real is bigger, and `1e999999` must not allocate. */
const MAX_INTEGER_DIGITS = 30;
const MAX_FRACTION_DIGITS = 30;

export class DecimalError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'DecimalError';
  }
}

/** What the value is, never the value itself: reasons are stored in Redis and shown on the run page. */
function describe(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'number') return 'a number';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : String(value);
}

/** Normalises a decimal (JSON number or decimal text) to a plain decimal string; throws DecimalError. */
export function toDecimal(value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DecimalError(`${describe(value)} is not a finite decimal`);
    const s = String(value); // exact for the numbers JSON.parse hands over (see json.ts); -0 renders "0"
    return s.indexOf('e') === -1 ? s : fromText(s, value);
  }
  if (typeof value === 'string') return fromText(value.trim(), value);
  throw new DecimalError(`${describe(value)} is not a decimal`);
}

function fromText(text: string, original: unknown): string {
  const m = DECIMAL_TEXT.exec(text);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === '')))
    throw new DecimalError(`${describe(original)} is not a decimal`);
  const negative = m[1] === '-';
  let digits = (m[2] ?? '') + (m[3] ?? '');
  let point = (m[2] ?? '').length; // position of the decimal point within `digits`
  if (m[4] !== undefined) point += Number(m[4]);
  if (point > MAX_INTEGER_DIGITS + digits.length || point < -MAX_FRACTION_DIGITS) {
    throw new DecimalError(`${describe(original)} is out of range`);
  }
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  } else if (point > digits.length) {
    digits = digits + '0'.repeat(point - digits.length);
  }
  let intPart = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  if (intPart === '') intPart = '0';
  let fracPart = digits.slice(point);
  // An exponent makes trailing zeros meaningless; otherwise keep the digits the source wrote.
  if (m[4] !== undefined) fracPart = fracPart.replace(/0+$/, '');
  if (intPart.length > MAX_INTEGER_DIGITS || fracPart.length > MAX_FRACTION_DIGITS) {
    throw new DecimalError(`${describe(original)} is out of range`);
  }
  const isZero = /^0*$/.test(intPart + fracPart);
  const body = fracPart === '' ? intPart : `${intPart}.${fracPart}`;
  return negative && !isZero ? `-${body}` : body;
}

/** Flips the sign of a normalised decimal string ("0" stays "0"). */
export function negateDecimal(decimal: string): string {
  if (decimal.charCodeAt(0) === 45) return decimal.slice(1);
  return isZeroDecimal(decimal) ? decimal : `-${decimal}`;
}

/** Absolute value of a normalised decimal string. */
export function absDecimal(decimal: string): string {
  return decimal.charCodeAt(0) === 45 ? decimal.slice(1) : decimal;
}

export function isZeroDecimal(decimal: string): boolean {
  for (let i = 0; i < decimal.length; i++) {
    const c = decimal.charCodeAt(i);
    if (c !== 48 && c !== 46 && c !== 45) return false;
  }
  return true;
}
