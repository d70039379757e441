export * from './app';
export * from './config';
export * from './sources';
export * from './status/types';
export * from './status/progress';
export type { AuthOptions } from './auth/guard';
export type { DashboardUser, Role, Principal } from './auth/credentials';
