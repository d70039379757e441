export { startSandbox, buildApp, type RunningSandbox } from './server';
export { SandboxState, type SandboxCounters } from './state';
export {
  DEFAULT_OPTIONS,
  DEFAULT_GRANTED_PRODUCTS,
  REALISTIC_LATENCY,
  NO_LATENCY,
  importLatencyMs,
  type SandboxOptions,
  type LatencyModel,
} from './options';
export {
  FAULT_ENDPOINTS,
  faultSettingsSchema,
  type FaultSettings,
  type FaultSettingsInput,
  type FaultEndpoint,
  type FaultCounts,
} from './faults/faults';
export type { DeliveryRecord } from './webhooks/dispatcher';
