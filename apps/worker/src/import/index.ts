export * from './import-connection';
export * from './link-sink';
export * from './moneykit-api';
export * from './processor';
export * from './rate-limiter';
export * from './reconcile';
export * from './worker';
export * from './topup';
