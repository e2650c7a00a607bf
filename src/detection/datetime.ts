/**
 * KQL datetimes carry 100 ns ticks; a JavaScript `Date` keeps milliseconds only.
 *
 * Throughout the engine a datetime is held as its canonical text: ISO 8601, UTC,
 * always 7 fractional digits (`2026-11-25T04:13:54.3140005Z`), the form KQL prints.
 * Fixed-width text of that form orders lexicographically exactly as the instants
 * order in time, so `min`, `max` and `between` are plain string comparisons and
 * nothing is lost to floating point.
 */
export type KqlDateTime = string;

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?$/;

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/**
 * Parses ISO 8601 text with 0 to 7 (or more, truncated) fractional digits into the
 * canonical 7-digit form. Text with no zone is UTC, as Log Analytics prints it.
 * Returns null for anything that is not a valid datetime.
 */
export function parseKqlDateTime(text: string): KqlDateTime | null {
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '00', frac = '', zone] = m;
  const fraction = frac.slice(0, 7).padEnd(7, '0');
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  let offsetMinutes = 0;
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  if (offsetMinutes === 0) {
    return `${y}-${mo}-${d}T${h}:${mi}:${pad(second, 2)}.${fraction}Z`;
  }
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute - offsetMinutes, second));
  if (utc.getUTCFullYear() < 0 || utc.getUTCFullYear() > 9999) return null;
  return (
    `${pad(utc.getUTCFullYear(), 4)}-${pad(utc.getUTCMonth() + 1, 2)}-${pad(utc.getUTCDate(), 2)}` +
    `T${pad(utc.getUTCHours(), 2)}:${pad(utc.getUTCMinutes(), 2)}:${pad(utc.getUTCSeconds(), 2)}.${fraction}Z`
  );
}

/** 100 ns ticks since the Unix epoch, exact (bigint). */
export function toUnixTicks(dt: KqlDateTime): bigint {
  const whole = Date.parse(dt.slice(0, 19) + 'Z');
  return BigInt(whole) * 10_000n + BigInt(dt.slice(20, 27));
}

/** The canonical text of a tick count since the Unix epoch. */
export function fromUnixTicks(ticks: bigint): KqlDateTime {
  const ms = ticks / 10_000n;
  let fracTicks = ticks % 10_000_000n;
  let seconds = ms / 1000n;
  if (fracTicks < 0n) {
    fracTicks += 10_000_000n;
    seconds -= 1n;
  }
  const iso = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${iso}.${pad(Number(fracTicks), 7)}Z`;
}

/** Canonical text of a JavaScript Date (millisecond precision, by nature of Date). */
export function fromDate(date: Date): KqlDateTime {
  return date.toISOString().slice(0, 23) + '0000Z';
}
