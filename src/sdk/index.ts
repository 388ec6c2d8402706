export { KeywardenApiError, KeywardenClient, KeywardenConnectionError } from './client.js';
export type { ClientOptions, KeyInput, Page, VerifyRequest } from './client.js';
export type { AdminKeyRecord, KeyRecord } from '../core/model.js';
export type { MemberRecord, MemberRole } from '../core/members.js';
export type { VerifyCode, VerifyResult } from '../core/verify.js';
export { checkGuardOptions, guard, presentedKey, sdkUnavailableCounter } from './guard.js';
export type { GuardOptions, GuardOutcome, KeyIdentity, VerifierLike } from './guard.js';
// The middleware has one entry point per framework (keywarden/sdk/express, …/fastify, …/hono),
// so that an app compiles with only its own framework's types installed.
export { inProcessVerifier } from './in-process.js';
