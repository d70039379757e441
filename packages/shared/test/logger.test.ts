import { Writable } from 'node:stream';
import { createLogger } from '@mk/shared';

/** A logger writing JSON lines into memory. */
function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger('logger-test', { level: 'debug', pretty: false, destination });
  const output = () => lines.join('\n');
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, output, records };
}

const SECRETS = {
  accessToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJl',
  clientSecret: 'sk_live_7Gq2pX9vR4tY8wZ1',
  email: 'jane.doe+bank@example.com',
  phone: '+1 (415) 555-0143',
  accountNumber: '000123456789',
  mask: '6789',
  description: 'PAYPAL *JANEDOE 4029357733',
  password: 'hunter2-but-longer',
};

function expectNoSecret(text: string) {
  for (const [name, value] of Object.entries(SECRETS)) {
    if (text.includes(value)) throw new Error(`log output leaks ${name}: ${text}`);
  }
}

describe('createLogger scrubbing', () => {
  it('redacts sensitive keys at any depth, in objects and arrays', () => {
    const { logger, output, records } = capture();
    logger.info(
      {
        request: {
          headers: { authorization: `Bearer ${SECRETS.accessToken}` },
          body: { client_id: 'cid', client_secret: SECRETS.clientSecret },
        },
        user: { profile: { email: SECRETS.email, phone_number: SECRETS.phone, password: SECRETS.password } },
        accounts: [
          {
            account_id: 'acc-1',
            account_number: SECRETS.accountNumber,
            mask: SECRETS.mask,
            numbers: { accountNumber: SECRETS.accountNumber },
          },
        ],
        transactions: [{ transaction_id: 't1', amount: '12.30', description: SECRETS.description }],
        token: SECRETS.accessToken,
      },
      'importing a connection',
    );
    expectNoSecret(output());
    const [record] = records();
    expect(record).toMatchObject({
      msg: 'importing a connection',
      request: { headers: { authorization: '[redacted]' }, body: { client_id: 'cid', client_secret: '[redacted]' } },
      accounts: [{ account_id: 'acc-1', account_number: '[redacted]', mask: '[redacted]' }],
      transactions: [{ transaction_id: 't1', amount: '12.30', description: '[redacted]' }],
    });
  });

  it('redacts PII and credentials inside messages and free-text values', () => {
    const { logger, output } = capture();
    logger.warn(`reconnect mail to ${SECRETS.email} bounced; phone on file ${SECRETS.phone}`);
    logger.error({ detail: `upstream said: invalid account ${SECRETS.accountNumber}` }, 'import rejected');
    logger.info({ note: `Authorization: Bearer ${SECRETS.accessToken}` }, 'retrying');
    logger.error(`token request failed: {"client_id":"cid","client_secret":"${SECRETS.clientSecret}"}`);
    logger.error(`token request failed: client_secret=${SECRETS.clientSecret}&grant_type=client_credentials`);
    logger.info('user %s signed in from %s', SECRETS.email, 'web');
    expectNoSecret(output());
    expect(output()).toContain('grant_type=client_credentials');
    expect(output()).toContain('signed in from web');
  });

  it('redacts errors, their messages and whatever key they are logged under', () => {
    const { logger, output, records } = capture();
    const err = Object.assign(new Error(`no link for ${SECRETS.email}`), {
      code: 'E_LINK',
      config: { headers: { Authorization: `Bearer ${SECRETS.accessToken}` } },
    });
    logger.error({ err }, 'failed');
    logger.error({ cause: new Error(`phone ${SECRETS.phone} rejected`) }, 'failed again');
    expectNoSecret(output());
    expect(records()[0]).toMatchObject({ err: { type: 'Error', code: 'E_LINK' } });
  });

  it('redacts child logger bindings', () => {
    const { logger, output } = capture();
    const child = logger.child({ userEmail: SECRETS.email, run: 'r1' });
    child.info('working');
    child.child({ token: SECRETS.accessToken, job: 'j1' }).info('deeper');
    expectNoSecret(output());
    expect(output()).toContain('"run":"r1"');
    expect(output()).toMatch(/"run":"r1".*"job":"j1".*"msg":"deeper"/);
  });

  it('keeps ordinary identifiers and numbers readable', () => {
    const { logger, records } = capture();
    logger.info(
      { runId: 'run-2026-11-20', linkId: 'mk_link_42', count: 1234567890123, durationMs: 812 },
      'imported 12 of 40',
    );
    expect(records()[0]).toMatchObject({
      runId: 'run-2026-11-20',
      linkId: 'mk_link_42',
      count: 1234567890123,
      durationMs: 812,
      msg: 'imported 12 of 40',
    });
  });
});
