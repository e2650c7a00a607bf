import {
  halveSlice,
  lastCompleteUtcDay,
  parseWindow,
  splitWindow,
  timespanCovering,
  InvalidWindowError,
} from '../../../src/logAnalytics/slices';
import { retryAfterMs } from '../../../src/logAnalytics/source';
import { logAnalyticsScope as queryApiScope } from '../../../src/shared/azureScopes';
import fc from 'fast-check';
import { fromUnixTicks, toUnixTicks } from '../../../src/detection/datetime';

const DAY = { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-26T00:00:00.0000000Z' };

describe('slices', () => {
  it('splits a day into contiguous half-open slices that tile it', () => {
    const s = splitWindow(DAY, 4);
    expect(s.map((x) => x.start)).toEqual([
      '2026-11-25T00:00:00.0000000Z',
      '2026-11-25T06:00:00.0000000Z',
      '2026-11-25T12:00:00.0000000Z',
      '2026-11-25T18:00:00.0000000Z',
    ]);
    expect(s.at(-1)!.end).toBe(DAY.end);
  });

  it('tiles any window with any slice count and halving, tick-exact', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2_400_000_000_000_000_000n }),
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.integer({ min: 1, max: 50 }),
        (start, length, count) => {
          const w = { start: fromUnixTicks(start), end: fromUnixTicks(start + length) };
          const slices = splitWindow(w, count).flatMap((s) => halveSlice(s) ?? [s]);
          expect(slices[0]!.start).toBe(w.start);
          expect(slices.at(-1)!.end).toBe(w.end);
          for (let i = 1; i < slices.length; i++) expect(slices[i]!.start).toBe(slices[i - 1]!.end);
          for (const s of slices) expect(toUnixTicks(s.end) > toUnixTicks(s.start)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('halves to the tick and stops at one tick', () => {
    expect(halveSlice({ start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-25T00:00:00.0000003Z' })).toEqual([
      { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-25T00:00:00.0000001Z' },
      { start: '2026-11-25T00:00:00.0000001Z', end: '2026-11-25T00:00:00.0000003Z' },
    ]);
    expect(halveSlice({ start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-25T00:00:00.0000001Z' })).toBeNull();
  });

  it('widens the API timespan outward to whole milliseconds', () => {
    const ts = timespanCovering({ start: '2026-11-25T00:00:00.0001234Z', end: '2026-11-25T00:00:01.0005001Z' });
    expect(ts.startTime.toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(ts.endTime.toISOString()).toBe('2026-11-25T00:00:01.001Z');
    const exact = timespanCovering(DAY);
    expect([exact.startTime.toISOString(), exact.endTime.toISOString()]).toEqual([
      '2026-11-25T00:00:00.000Z',
      '2026-11-26T00:00:00.000Z',
    ]);
  });

  it('takes the last complete UTC day', () => {
    expect(lastCompleteUtcDay(new Date('2026-11-26T00:30:00Z'))).toEqual(DAY);
    expect(lastCompleteUtcDay(new Date('2026-11-26T23:59:59.999Z'))).toEqual(DAY);
  });

  it('parses windows and refuses bad ones with the setting named', () => {
    expect(parseWindow('2026-11-25', '2026-11-26T00:00:00+00:00')).toEqual(DAY);
    expect(() => parseWindow('yesterday', '2026-11-26', '--from/--to')).toThrow(/--from\/--to: start 'yesterday'/);
    expect(() => parseWindow('2026-11-26', '2026-11-25')).toThrow(InvalidWindowError);
  });
});

describe('Retry-After', () => {
  const h = (o: Record<string, string>) => ({ get: (n: string) => o[n] });
  it('reads seconds, an HTTP date, and the millisecond headers', () => {
    expect(retryAfterMs(h({ 'retry-after': '3' }))).toBe(3000);
    expect(retryAfterMs(h({ 'retry-after-ms': '25', 'retry-after': '3' }))).toBe(25);
    expect(
      retryAfterMs(h({ 'retry-after': 'Thu, 26 Nov 2026 00:00:10 GMT' }), Date.parse('2026-11-26T00:00:00Z')),
    ).toBe(10_000);
    expect(retryAfterMs(h({}))).toBeUndefined();
  });
});

describe('token scope of the query API', () => {
  it('is the SDK default for the public cloud and the endpoint itself elsewhere', () => {
    expect(queryApiScope('https://api.loganalytics.io/v1')).toBeUndefined();
    expect(queryApiScope('https://api.loganalytics.azure.com/v1')).toBeUndefined();
    expect(queryApiScope('https://api.loganalytics.us/v1')).toBe('https://api.loganalytics.us/.default');
    expect(queryApiScope('https://api.loganalytics.azure.cn/v1')).toBe('https://api.loganalytics.azure.cn/.default');
  });
});
