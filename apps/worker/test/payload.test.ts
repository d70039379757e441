import { UnrecoverableError } from 'bullmq';
import { createLogger, generatePayloadKeys, PayloadSealer, sealImportJob, type ImportJob } from '@mk/shared';
import { processImportJob, type ImportProcessorDeps } from '../src/import';
import { openImportPayload } from '../src/import/payload';

const job: ImportJob = {
  runId: 'r1',
  sourceUserId: 'u1',
  line: 1,
  connections: [
    {
      connectionId: 'c1',
      request: {
        institution_id: 'chase',
        customer_user: { id: 'user-0001', email: { address: 'jane@example.com' } },
        accounts: [{ account_id: 'a1', name: 'Checking', type: 'depository.checking', balances: { currency: 'USD' } }],
        transactions: [],
      } as unknown as ImportJob['connections'][number]['request'],
    },
  ],
};

describe('opening import payloads in the worker', () => {
  const k1 = generatePayloadKeys('k1');
  const sealer = PayloadSealer.fromSpec(k1);

  it('opens what the producer sealed, with the current or an older key', () => {
    const sealed = sealImportJob(sealer, job);
    expect(JSON.stringify(sealed)).not.toContain('jane@example.com');
    expect(openImportPayload(sealer, sealed)).toMatchObject({ ok: true, payload: { runId: 'r1', sourceUserId: 'u1' } });
    expect(openImportPayload(PayloadSealer.fromSpec(`${generatePayloadKeys('k2')},${k1}`), sealed).ok).toBe(true);
  });

  it('retries a job sealed with a key it does not hold, and fails an altered one for good', async () => {
    const deps = {
      sealer: PayloadSealer.fromSpec(generatePayloadKeys('k9')),
      logger: createLogger('test', { level: 'silent' }),
    } as unknown as ImportProcessorDeps;
    const attempt = (data: unknown) =>
      processImportJob(deps, { data, attemptsMade: 0, opts: { attempts: 8 }, id: 'j1' });
    const sealed = sealImportJob(sealer, job);
    const unknownKey = attempt(sealed);
    await expect(unknownKey).rejects.toThrow(/"k1", which PAYLOAD_KEYS does not list/);
    await expect(unknownKey).rejects.not.toBeInstanceOf(UnrecoverableError);

    const own = { ...deps, sealer } as ImportProcessorDeps;
    const moved = { ...sealed, runId: 'r2' }; // a payload copied into another run's job
    await expect(
      processImportJob(own, { data: moved, attemptsMade: 0, opts: { attempts: 8 }, id: 'j2' }),
    ).rejects.toBeInstanceOf(UnrecoverableError);
  });
});
