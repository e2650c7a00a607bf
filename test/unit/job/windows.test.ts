import fc from 'fast-check';
import {
  EARLY_FIRE_TOLERANCE_MS,
  firstWindowStart,
  latestDueBoundary,
  parseDayBoundary,
  planWindows,
} from '../../../src/job/windows';

const at = (iso: string) => new Date(iso);

describe('latestDueBoundary', () => {
  it('is the last midnight at or before now minus the delay', () => {
    expect(latestDueBoundary(at('2026-11-26T00:15:00Z'), 15).toISOString()).toBe('2026-11-26T00:00:00.000Z');
    expect(latestDueBoundary(at('2026-11-26T00:14:59.999Z'), 15).toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(latestDueBoundary(at('2026-11-26T23:59:59Z'), 0).toISOString()).toBe('2026-11-26T00:00:00.000Z');
  });
});

describe('parseDayBoundary', () => {
  it('accepts UTC midnights only', () => {
    expect(parseDayBoundary('2026-11-25T00:00:00.0000000Z')?.toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(parseDayBoundary('2026-11-25T00:00:00Z')?.toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(parseDayBoundary('2026-11-25T00:00:00.0000001Z')).toBeUndefined();
    expect(parseDayBoundary('2026-11-25T13:00:00Z')).toBeUndefined();
    expect(parseDayBoundary('yesterday')).toBeUndefined();
  });
});

describe('planWindows', () => {
  const base = { ingestionDelayMinutes: 15, maxCatchupDays: 14 };

  it('first run: only the window ending at the latest due boundary', () => {
    const plan = planWindows({ ...base, checkpoint: undefined, now: at('2026-11-26T00:15:03Z') });
    expect(plan).toEqual({
      windows: [{ start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-26T00:00:00.0000000Z' }],
    });
  });

  it('a run before the delay has passed does not take the day that just ended', () => {
    const plan = planWindows({
      ...base,
      checkpoint: at('2026-11-25T00:00:00Z'),
      now: at('2026-11-26T00:10:00Z'),
    });
    expect(plan.windows).toEqual([]);
  });

  it('three missed days: three windows, oldest first, contiguous', () => {
    const plan = planWindows({ ...base, checkpoint: at('2026-11-22T00:00:00Z'), now: at('2026-11-25T09:00:00Z') });
    expect(plan.windows).toEqual([
      { start: '2026-11-22T00:00:00.0000000Z', end: '2026-11-23T00:00:00.0000000Z' },
      { start: '2026-11-23T00:00:00.0000000Z', end: '2026-11-24T00:00:00.0000000Z' },
      { start: '2026-11-24T00:00:00.0000000Z', end: '2026-11-25T00:00:00.0000000Z' },
    ]);
    expect(plan.skipped).toBeUndefined();
  });

  it('skips windows beyond the catch-up limit and says which', () => {
    const plan = planWindows({
      ingestionDelayMinutes: 15,
      maxCatchupDays: 2,
      checkpoint: at('2026-11-20T00:00:00Z'),
      now: at('2026-11-25T01:00:00Z'),
    });
    expect(plan.windows.map((w) => w.start)).toEqual(['2026-11-23T00:00:00.0000000Z', '2026-11-24T00:00:00.0000000Z']);
    expect(plan.skipped).toEqual({
      start: '2026-11-20T00:00:00.0000000Z',
      end: '2026-11-23T00:00:00.0000000Z',
      days: 3,
    });
  });

  it('a timer that fires a moment early (00:14:59.999 for 00:15) still takes the day that ended', () => {
    const plan = planWindows({ ...base, checkpoint: at('2026-11-25T00:00:00Z'), now: at('2026-11-26T00:14:59.999Z') });
    expect(plan.windows.map((w) => w.start)).toEqual(['2026-11-25T00:00:00.0000000Z']);
    // ... but not one that fires minutes early.
    const tooEarly = planWindows({ ...base, checkpoint: at('2026-11-25T00:00:00Z'), now: at('2026-11-26T00:10:00Z') });
    expect(tooEarly.windows).toEqual([]);
  });

  it('the first window is the latest complete day, or the day DETECTION_START_DATE falls in', () => {
    const now = at('2026-11-26T00:15:03Z');
    expect(firstWindowStart({ now, ingestionDelayMinutes: 15 }).toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(
      firstWindowStart({ now, ingestionDelayMinutes: 15, detectionStartDate: '2026-11-20T13:00:00.0000000Z' }),
    ).toEqual(at('2026-11-20T00:00:00Z'));
  });

  it('a checkpoint in the future (clock moved back) processes nothing', () => {
    const plan = planWindows({ ...base, checkpoint: at('2026-12-01T00:00:00Z'), now: at('2026-11-25T09:00:00Z') });
    expect(plan.windows).toEqual([]);
  });

  it('property: windows are contiguous whole days from the checkpoint, all due, at most the limit, with skipped + processed = due', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 86_399_999 }),
        fc.integer({ min: 0, max: 1440 }),
        fc.integer({ min: 1, max: 20 }),
        (daysBehind, msIntoDay, delay, limit) => {
          const checkpoint = at('2026-10-01T00:00:00Z');
          const now = new Date(checkpoint.getTime() + daysBehind * 86_400_000 + msIntoDay);
          const plan = planWindows({ checkpoint, now, ingestionDelayMinutes: delay, maxCatchupDays: limit });
          const w = plan.windows;
          expect(w.length).toBeLessThanOrEqual(limit);
          for (let i = 0; i < w.length; i++) {
            const s = Date.parse(w[i].start);
            const e = Date.parse(w[i].end);
            expect(e - s).toBe(86_400_000);
            expect(s % 86_400_000).toBe(0);
            expect(e + delay * 60_000).toBeLessThanOrEqual(now.getTime() + EARLY_FIRE_TOLERANCE_MS);
            if (i > 0) expect(w[i].start).toBe(w[i - 1].end);
          }
          const firstStart = w.length ? Date.parse(w[0].start) : undefined;
          const skipped = plan.skipped?.days ?? 0;
          if (firstStart !== undefined) {
            expect(firstStart).toBe(checkpoint.getTime() + skipped * 86_400_000);
            // The next day is not due yet: nothing left behind.
            expect(Date.parse(w[w.length - 1].end) + 86_400_000 + delay * 60_000).toBeGreaterThan(
              now.getTime() + EARLY_FIRE_TOLERANCE_MS,
            );
          } else {
            expect(skipped).toBe(0);
          }
        },
      ),
    );
  });
});
