export * from './payloads';
export * from './ids';
export * from './catalog';
export * from './handlers';
