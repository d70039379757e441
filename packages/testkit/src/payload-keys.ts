/**
 * The payload keys of a test process: generated once per process (never a key kept in the repository), given to
 * every app the test starts (startApp) and to the in-process producer and workers through testSealer().
 */
import { generatePayloadKeys, PayloadSealer } from '@mk/shared';

export const TEST_PAYLOAD_KEYS = generatePayloadKeys('test');

export const testSealer = () => PayloadSealer.fromSpec(TEST_PAYLOAD_KEYS);
