import { VmEnricher, COMPUTE_API_VERSION } from '../../../src/arm/vmEnrichment';
import { startArmStandIn, type ArmStandIn } from '../../support/armStandIn';
import { FakeCredential } from '../../support/credential';

const SUB = '0f925054-1d82-40bb-a217-310853b194bb';
const vmId = (rg: string, name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;

describe('VmEnricher against an ARM stand-in', () => {
  let arm: ArmStandIn;
  let credential: FakeCredential;

  beforeEach(async () => {
    arm = await startArmStandIn([
      {
        id: vmId('RG-Shared', 'dc01'),
        location: 'westeurope',
        tags: { owner: 'infra', env: 'prod' },
        vmId: '11111111-aaaa-bbbb-cccc-000000000001',
        osType: 'Windows',
      },
      {
        id: vmId('rg-dev', 'app07'),
        location: 'northeurope',
        vmId: '11111111-aaaa-bbbb-cccc-000000000002',
        osType: 'Linux',
      },
    ]);
    credential = new FakeCredential('arm-token');
  });
  afterEach(async () => arm.stop());

  const enricher = (concurrency?: number) =>
    new VmEnricher({
      credential,
      endpoint: arm.endpoint,
      concurrency,
      clientOptions: {
        tlsOptions: { ca: arm.ca },
        retryOptions: { maxRetries: 1, retryDelayInMs: 1, maxRetryDelayInMs: 5 },
      },
    });

  it('reads location, resource group, tags, vmId and OS type of each VM', async () => {
    const result = await enricher().enrich([vmId('RG-Shared', 'dc01'), vmId('rg-dev', 'app07')]);
    expect(result.get(vmId('RG-Shared', 'dc01'))).toEqual({
      status: 'ok',
      location: 'westeurope',
      resourceGroup: 'RG-Shared',
      tags: { owner: 'infra', env: 'prod' },
      vmId: '11111111-aaaa-bbbb-cccc-000000000001',
      osType: 'Windows',
    });
    expect(result.get(vmId('rg-dev', 'app07'))).toMatchObject({ status: 'ok', osType: 'Linux', tags: {} });
    expect(arm.requests).toHaveLength(2);
    for (const r of arm.requests) {
      expect(r.apiVersion).toBe(COMPUTE_API_VERSION);
      expect(r.authorization).toBe('Bearer arm-token');
      expect(r.rawPath).toBe(r.path);
    }
    expect(new Set(arm.requests.map((r) => r.path))).toEqual(
      new Set([vmId('RG-Shared', 'dc01'), vmId('rg-dev', 'app07')]),
    );
    expect(credential.scopesAsked).toContain(`${arm.endpoint}/.default`);
  });

  it('looks each VM up once per enricher, whatever the casing of its id or how often it is asked', async () => {
    const e = enricher();
    const id = vmId('RG-Shared', 'dc01');
    const first = await e.enrich([id, id, id.toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/')]);
    const second = await e.enrich([id]);
    expect(arm.requests).toHaveLength(1);
    expect(first.get(id)?.status).toBe('ok');
    expect(second.get(id)).toEqual(first.get(id));
    expect(e.lookups).toBe(1);
  });

  it('keeps at most `concurrency` lookups in flight', async () => {
    for (let i = 0; i < 12; i++)
      arm.addVm({ id: vmId('rg-many', `vm${i}`), location: 'westeurope', vmId: `id-${i}`, osType: 'Windows' });
    const ids = Array.from({ length: 12 }, (_, i) => vmId('rg-many', `vm${i}`));
    const result = await enricher(4).enrich(ids);
    expect([...result.values()].every((v) => v.status === 'ok')).toBe(true);
    expect(arm.requests).toHaveLength(12);
    expect(arm.maxInFlight).toBeLessThanOrEqual(4);
    expect(arm.maxInFlight).toBeGreaterThan(1);
  });

  it.each([
    [403, 'forbidden', 'Reader role'],
    [404, 'notFound', 'deleted'],
    [429, 'throttled', 'throttled'],
    [500, 'error', '500'],
  ] as const)('turns %d into status %s with an explanation', async (status, expected, words) => {
    const id = vmId('RG-Shared', 'dc01');
    arm.fail(id, status);
    const result = (await enricher().enrich([id])).get(id);
    expect(result?.status).toBe(expected);
    expect(result?.detail).toContain(words);
    expect(result?.location).toBeUndefined();
  });

  it('answers notFound for a VM ARM does not know, and error for a scope that is not a VM id, without asking ARM', async () => {
    const gone = vmId('rg-dev', 'deleted01');
    const result = await enricher().enrich([gone, '', '/subscriptions/x/resourceGroups']);
    expect(result.get(gone)?.status).toBe('notFound');
    expect(result.get('')?.status).toBe('error');
    expect(result.get('/subscriptions/x/resourceGroups')?.detail).toContain('not the ARM resource id');
    expect(arm.requests).toHaveLength(1);
  });

  it('recovers from a throttle the client retries', async () => {
    const id = vmId('RG-Shared', 'dc01');
    arm.fail(id, 429, 1);
    const result = (await enricher().enrich([id])).get(id);
    expect(result?.status).toBe('ok');
    expect(arm.requests).toHaveLength(2);
  });
});
