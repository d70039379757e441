export * from './ports';
export * from './redis-server';
export * from './processes';
export * from './contract';
export * from './fuzz';
export * from './cpu-load';
export * from './payload-keys';
