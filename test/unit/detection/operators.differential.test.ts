/**
 * The engine's KQL operators against the reference's independent versions
 * (test/reference/parityReference.ts) on generated strings made of the characters
 * that matter: term boundaries, case-folding corners, White_Space and near misses.
 */
import fc from 'fast-check';
import {
  caseFold,
  extractScriptName,
  getProperty,
  has,
  parseJson,
  tostring,
  toupper,
} from '../../../src/detection/kql';
import { referenceOperators as ref } from '../../reference/parityReference';

const pieces = [
  'virtualMachines', 'VIRTUALMACHINES', 'virtualMachineScaleSets', '-File', '-file', '-FilePath', 'script', '.ps1',
  '123456789', '0', 'Success', 'Succeeded', 'a', 'Z', '_', '-', '/', '.', '"', '\\', ' ', '\t', '\n', '\u0085',
  '\u00a0', '\u2007', '\u3000', '\ufeff', '\u200b', 'é', 'É', 'ſ', 'ß', 'ı', 'İ', '\u212a', 'ﬁ', 'ᾳ', '\u0660',
  '\u00b2', '\u0301', '\u{10428}', '\u{1f600}', '\ud801', '\udc00',
]; // prettier-ignore
const text = fc.array(fc.constantFrom(...pieces), { maxLength: 12 }).map((parts) => parts.join(''));
const needle = fc.oneof(
  fc.constantFrom('virtualMachines', '-File', 'Success', 'Succeeded', 'é', 'ſ', 's', '_', '-', 'x-', '\u{10428}', 'ß'),
  text,
);

describe('operators vs the reference', () => {
  it('has', () => {
    fc.assert(
      fc.property(text, needle, (h, n) => {
        expect(has(h, n)).toBe(ref.has(h, n));
      }),
      { numRuns: 3000 },
    );
  });

  it('extract of the script name', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(extractScriptName(s)).toBe(ref.extract(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('toupper and case folding, on any code points (lone surrogates too)', () => {
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ unit: 'binary', maxLength: 20 })), (s) => {
        expect(toupper(s)).toBe(ref.toupper(s));
        expect(caseFold(s)).toBe(ref.caseFold(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('tostring(parse_json(x).Command)', () => {
    const value = fc.oneof(fc.json(), fc.jsonValue(), fc.string(), fc.record({ Command: fc.jsonValue() }));
    fc.assert(
      fc.property(value, (v) => {
        expect(tostring(getProperty(parseJson(v), 'Command'))).toBe(
          ref.tostring(ref.property(ref.parseJson(v), 'Command')),
        );
      }),
      { numRuns: 2000 },
    );
  });
});
