export * from './products';
export * from './moneykit';
export * from './errors';
export * from './queues';
export * from './jobs';
export * from './config';
export * from './logger';
export * from './redis';
