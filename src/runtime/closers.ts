/**
 * What a start-up opened, closed in the reverse order. The same list serves a start that fails
 * half-way (the store, the Redis connections, the usage writer's thread and the event file opened
 * so far are closed, so an embedding program does not hang on them) and a graceful close.
 *
 * Every closer runs even when an earlier one fails; the first failure is thrown after the last.
 */
export class Closers {
  private readonly stack: (() => unknown)[] = [];

  /** Registers what undoes the step just taken. */
  add(close: () => unknown): void {
    this.stack.push(close);
  }

  async closeAll(): Promise<void> {
    let failure: { err: unknown } | undefined;
    for (let close = this.stack.pop(); close !== undefined; close = this.stack.pop()) {
      try {
        await close();
      } catch (err) {
        failure ??= { err };
      }
    }
    if (failure !== undefined) throw failure.err;
  }

  /**
   * Closes everything registered and rethrows `err`: for a start that failed. A failure to close
   * is not allowed to hide why the start failed.
   */
  async abandon(err: unknown): Promise<never> {
    await this.closeAll().catch(() => undefined);
    throw err;
  }
}
