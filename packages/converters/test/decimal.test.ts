import { DecimalError, JsonInputError, negateDecimal, parseJsonPreservingNumbers, toDecimal } from '../src';

describe('toDecimal', () => {
  it.each([
    [12.34, '12.34'],
    ['12.34', '12.34'],
    [-0, '0'],
    ['-0', '0'],
    ['-0.00', '0.00'],
    [1e3, '1000'],
    ['1e3', '1000'],
    ['1E+3', '1000'],
    ['1.5e-3', '0.0015'],
    ['-2.50e2', '-250'],
    [1e21, '1000000000000000000000'],
    [1e-7, '0.0000001'],
    ['48.2542', '48.2542'],
    [48.2542, '48.2542'],
    ['12.50', '12.50'],
    ['+7', '7'],
    ['007.10', '7.10'],
    ['.5', '0.5'],
    ['5.', '5'],
    [' 3.25 ', '3.25'],
    ['12345678901234567890.123456789', '12345678901234567890.123456789'],
  ])('%p → %p', (input, expected) => {
    expect(toDecimal(input)).toBe(expected);
  });

  it.each([
    ['abc'],
    [''],
    ['-'],
    ['.'],
    ['1,000.00'],
    ['$5'],
    ['NaN'],
    ['Infinity'],
    ['1e'],
    ['1e99999'],
    [NaN],
    [Infinity],
    [-Infinity],
    [null],
    [true],
    [{}],
    [[]],
  ])('rejects %p', (input) => {
    expect(() => toDecimal(input)).toThrow(DecimalError);
  });

  it('names the offending value', () => {
    expect(() => toDecimal('abc')).toThrow('a string of 3 characters is not a decimal');
  });

  it('negates without creating -0', () => {
    expect(negateDecimal('12.5')).toBe('-12.5');
    expect(negateDecimal('-12.5')).toBe('12.5');
    expect(negateDecimal('0.00')).toBe('0.00');
  });
});

describe('parseJsonPreservingNumbers', () => {
  it('keeps ordinary numbers as numbers (exact for ≤ 15 significant digits)', () => {
    expect(parseJsonPreservingNumbers('{"a":12.34,"b":-0,"c":[1,2]}')).toEqual({ a: 12.34, b: -0, c: [1, 2] });
  });

  it('keeps literals a double cannot carry as their exact text', () => {
    const v = parseJsonPreservingNumbers(
      '{"a":0.10000000000000001,"b":12345678901234567890,"c":1e400,"d":-2.5E-3,"e":"x1e3"}',
    ) as Record<string, unknown>;
    expect(v).toEqual({ a: '0.10000000000000001', b: '12345678901234567890', c: '1e400', d: '-2.5E-3', e: 'x1e3' });
    expect(toDecimal(v.a)).toBe('0.10000000000000001');
    expect(toDecimal(v.d)).toBe('-0.0025');
    expect(() => toDecimal(v.c)).toThrow('out of range');
  });

  it('ignores digits and brackets inside strings, including escaped quotes', () => {
    const text = '{"s":"12345678901234567890 [[[[ \\" 1e5","n":1.5,"t":"\\\\"}';
    expect(parseJsonPreservingNumbers(text, { maxDepth: 1 })).toEqual({
      s: '12345678901234567890 [[[[ " 1e5',
      n: 1.5,
      t: '\\',
    });
  });

  it('refuses nesting deeper than the limit', () => {
    const bomb = '{"a":' + '['.repeat(100) + ']'.repeat(100) + '}';
    expect(() => parseJsonPreservingNumbers(bomb, { maxDepth: 64 })).toThrow(JsonInputError);
    expect(() => parseJsonPreservingNumbers(bomb, { maxDepth: 64 })).toThrow('nesting deeper than 64 levels');
    expect(parseJsonPreservingNumbers(bomb, { maxDepth: 101 })).toBeDefined();
  });

  it('reports invalid JSON with the parser message', () => {
    expect(() => parseJsonPreservingNumbers('{"a":1')).toThrow(/^invalid JSON: /);
    expect(() => parseJsonPreservingNumbers('{"a":"unterminated')).toThrow(JsonInputError);
  });
});
