/**
 * A problem+json answer from Keywarden (SPEC §3), as thrown by the SDK's client and the web
 * console alike. `code` is one of the documented constants (or `HTTP_<status>` when the body
 * carried none); `detail` is the server's precise sentence. Browser-safe: no Node imports.
 */
export class KeywardenApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly title: string,
    readonly requestId: string | undefined,
  ) {
    super(`${detail} (${code})`);
    this.name = 'KeywardenApiError';
  }

  /**
   * The error for a non-2xx answer from its status and parsed body; fields the body lacks (an
   * HTML page from a proxy, an empty body) get neutral stand-ins that name the status.
   * @example throw KeywardenApiError.fromProblem(res.status, JSON.parse(text), res.statusText)
   */
  static fromProblem(status: number, body: unknown, statusText = ''): KeywardenApiError {
    const p = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const reason = statusText === '' ? '' : ` ${statusText}`;
    return new KeywardenApiError(
      status,
      str(p.code) ?? `HTTP_${status}`,
      str(p.detail) ?? `the server answered ${status}${reason}`,
      str(p.title) ?? statusText,
      str(p.requestId),
    );
  }
}
