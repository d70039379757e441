export * from './records';
export * from './ledger';
