/*
 * The package's root entry point (`import … from 'keywarden'`): embed Keywarden in a process.
 * `keywarden/sdk` holds the HTTP client and the middleware for services that call a Keywarden server.
 */
export { createKeywarden } from './main.js';
export { initStore, serve } from './serve.js';
export type { CreateOptions, Keywarden } from './main.js';
export { ConfigError, loadConfig } from './config.js';
export type { Config } from './config.js';
export { inProcessVerifier } from './sdk/in-process.js';
export type { KeyIdentity, VerifierLike } from './sdk/guard.js';
export type { VerifyRequest } from './sdk/client.js';
export type { AdminKeyRecord, KeyRecord } from './core/model.js';
export type { VerifyCode, VerifyResult } from './core/verify.js';
