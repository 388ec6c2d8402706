export { KeywardenApiError, KeywardenClient, KeywardenConnectionError } from './client.js';
export type {
  ClientOptions,
  IdentityUsage,
  KeyInput,
  LogQuery,
  Page,
  PolicyPreview,
  VerifyRequest,
} from './client.js';
export type { IdentityInput, IdentityPatch, IdentityRecord } from '../core/identity.js';
export type { AdminKeyRecord, KeyRecord } from '../core/model.js';
export type { MemberRecord, MemberRole } from '../core/members.js';
export type { VerifyCode, VerifyResult } from '../core/verify.js';
export { checkGuardOptions, guard, presentedKey, sdkUnavailableCounter } from './guard.js';
export type { GuardOptions, GuardOutcome, KeyIdentity, VerifierLike } from './guard.js';
// The middleware has one entry point per framework (keywarden/sdk/express, …/fastify, …/hono),
// typed with that framework's own types. The root keeps 0.1.0's structurally typed exports, which
// name no framework, so that an app compiles with only its own framework's types installed.
// eslint-disable-next-line @typescript-eslint/no-deprecated -- kept, deprecated, for 0.1.0's imports
export { keywardenExpress, keywardenFastify, keywardenHono } from './root-middleware.js';
export { inProcessVerifier } from './in-process.js';
