import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, LogFn, Logger } from 'pino';

/**
 * A request's logger, made on first use. Fastify gives every request a child logger carrying its
 * id; pino's `child()` (bindings serialized, redaction set up) costs measurable time on every
 * request, verifications included, while nearly no request writes a line
 * (docs/hot-path.md#http-per-request). This stands in for the
 * child and builds it only when a message at an enabled level is written; the line is then the
 * one the child would have written (same bindings, same redaction).
 */
export class LazyRequestLogger implements FastifyBaseLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  private get real(): Logger {
    return (this.made ??= this.parent.child(this.bindings, this.opts));
  }

  get level(): string {
    return (this.made ?? this.parent).level;
  }

  set level(level: string) {
    this.real.level = level;
  }

  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real.child(bindings, opts);
  }

  fatal = this.method('fatal');
  error = this.method('error');
  warn = this.method('warn');
  info = this.method('info');
  debug = this.method('debug');
  trace = this.method('trace');
  silent: LogFn = () => undefined;

  private method(level: Level): LogFn {
    // pino reads how many arguments it got: pass them on exactly as they came.
    return (...args: unknown[]): void => {
      if (!(this.made ?? this.parent).isLevelEnabled(level)) return;
      const real = this.real;
      Reflect.apply(real[level], real, args);
    };
  }
}

/**
 * Fastify's `childLoggerFactory` for a pino root logger: every request gets a lazy child, unless
 * its route sets its own level (then the level check needs the real child).
 */
export function lazyChildLoggers(root: Logger) {
  return (_logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger =>
    opts.level === undefined ? new LazyRequestLogger(root, bindings, opts) : root.child(bindings, opts);
}
