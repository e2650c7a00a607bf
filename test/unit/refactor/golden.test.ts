/**
 * The one-vocabulary refactor changed no behaviour: both modes give, byte for byte, the
 * findings (and corrected-mode details) they gave before it, on both example days, the
 * sample day and three generated four-day tenants. The files in test/fixtures/golden/
 * were written by the code as it was before the refactor (commit "Golden findings").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeGolden } from '../../support/golden';

const DIR = join(__dirname, '..', '..', 'fixtures', 'golden');

describe('findings are byte-identical to those made before the refactor', () => {
  let computed: Record<string, string>;
  beforeAll(async () => {
    computed = await computeGolden();
  });

  it.each([
    'plain-day.ndjson',
    'tricky-day.ndjson',
    'sample-day.ndjson',
    'generated-seed-1.ndjson',
    'generated-seed-2.ndjson',
    'generated-seed-3.ndjson',
  ])('%s', (name) => {
    const before = readFileSync(join(DIR, name), 'utf8');
    expect(before.split('\n').length).toBeGreaterThan(2);
    expect(computed[name]).toBe(before);
  });
});
