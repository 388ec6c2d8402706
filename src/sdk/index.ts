export { KeywardenApiError, KeywardenClient, KeywardenConnectionError } from './client.js';
export type { ClientOptions, KeyInput, Page, VerifyRequest } from './client.js';
export type { AdminKeyRecord, KeyRecord } from '../core/model.js';
export type { VerifyCode, VerifyResult } from '../core/verify.js';
