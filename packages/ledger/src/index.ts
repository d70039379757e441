export * from './records';
export * from './ledger';
export * from './run-state';
export * from './run-signals';
export * from './landed';
export * from './outbox';
