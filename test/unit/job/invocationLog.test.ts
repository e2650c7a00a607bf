import { InvocationContext } from '@azure/functions';
import { invocationLog } from '../../../src/job/invocationLog';

describe('invocationLog', () => {
  it('writes one JSON object per line through the InvocationContext, at the matching level', () => {
    const lines: Array<[string, unknown[]]> = [];
    const context = new InvocationContext({ logHandler: (level, ...args) => lines.push([level, args]) });
    const log = invocationLog(context);
    log.info('Window processed', { findings: 3, window: { start: 'a', end: 'b' } });
    log.warn('Skipping 2 day window(s)');
    log.error('failed', { error: 'x"y' });
    expect(lines.map(([level]) => level)).toEqual(['information', 'warning', 'error']);
    expect(lines.every(([, args]) => args.length === 1 && typeof args[0] === 'string')).toBe(true);
    expect(JSON.parse(lines[0][1][0] as string)).toEqual({
      message: 'Window processed',
      findings: 3,
      window: { start: 'a', end: 'b' },
    });
    expect(JSON.parse(lines[1][1][0] as string)).toEqual({ message: 'Skipping 2 day window(s)' });
    expect(JSON.parse(lines[2][1][0] as string)).toEqual({ message: 'failed', error: 'x"y' });
  });
});
