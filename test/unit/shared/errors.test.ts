import { AppError, asError, errorTypeOf, messageOf } from '../../../src/shared/errors';
import { SliceFailedError } from '../../../src/logAnalytics/errors';
import { ConcurrencyConflictError, StateStoreError } from '../../../src/stateStore';
import { IngestionThrottledError } from '../../../src/ingestion/errors';

describe('the error base', () => {
  it('names every error after its own class, keeps the cause and says whether to retry', () => {
    class SomethingBroke extends AppError {}
    const cause = new Error('socket hang up');
    const e = new SomethingBroke('it broke', { cause, retriable: true });
    expect(e.name).toBe('SomethingBroke');
    expect(e.cause).toBe(cause);
    expect(e.retriable).toBe(true);
    expect(new SomethingBroke('x').retriable).toBe(false);
    expect(new ConcurrencyConflictError('t', 'p', 'r', 412).name).toBe('ConcurrencyConflictError');
    expect(new StateStoreError('x', { statusCode: 503, retriable: true })).toMatchObject({
      name: 'StateStoreError',
      statusCode: 503,
      retriable: true,
    });
    const target = { endpoint: 'https://e', dcrImmutableId: 'dcr-1', streamName: 'Custom-X' };
    expect(new IngestionThrottledError('slow down', { target, retriable: true, statusCode: 429 })).toMatchObject({
      name: 'IngestionThrottledError',
      statusCode: 429,
      target,
    });
    const slice = { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-25T06:00:00.0000000Z' };
    const sliceError = new SliceFailedError({
      table: 'DeviceEvents',
      slice,
      reason: 'HTTP 403',
      clientRequestId: 'id-1',
    });
    expect(sliceError.name).toBe('SliceFailedError');
    expect(sliceError.message).toContain('DeviceEvents');
    expect(sliceError.message).toContain('id-1');
  });

  it('messageOf, asError and errorTypeOf take anything thrown', () => {
    expect(messageOf(new Error('m'))).toBe('m');
    expect(messageOf('plain text')).toBe('plain text');
    expect(messageOf(42)).toBe('42');
    expect(asError('s')).toBeInstanceOf(Error);
    expect(asError('s').message).toBe('s');
    expect(errorTypeOf(new TypeError('t'))).toBe('TypeError');
    expect(errorTypeOf('t')).toBe('string');
  });
});
