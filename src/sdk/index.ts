export { KeywardenApiError, KeywardenClient, KeywardenConnectionError } from './client.js';
export type { ClientOptions, KeyInput, Page, VerifyRequest } from './client.js';
export type { AdminKeyRecord, KeyRecord } from '../core/model.js';
export type { VerifyCode, VerifyResult } from '../core/verify.js';
export { guard, presentedKey } from './guard.js';
export type { GuardOptions, GuardOutcome, KeyIdentity, VerifierLike } from './guard.js';
export { keywardenExpress, keywardenFastify, keywardenHono } from './middleware.js';
export { inProcessVerifier } from './in-process.js';
