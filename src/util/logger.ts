/**
 * One small levelled logger for every thread and for the Node relay.
 *
 * Each module makes its own named logger (`createLogger('relay')`); the level is
 * global so a page, a worker or the relay CLI can turn detail up or down once.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Where log lines go; tests replace it to capture output. `context` is what
 * a logger made with one stands for (a session's name), so a listener can
 * tell one session's lines from another's on a page that hosts several.
 */
export type LogSink = (level: Exclude<LogLevel, 'silent'>, scope: string, message: string, context?: string) => void;

const defaultSink: LogSink = (level, scope, message) => {
  const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${scope}] ${message}`;
  // The one sanctioned place that writes to the console.
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
};

let currentLevel: LogLevel = 'info';
let sink: LogSink = defaultSink;
const listeners = new Set<LogSink>();

/** Sets the minimum level printed by every logger. */
export function setLogLevel(level: LogLevel): void {
  currentLevel = level;
}

export function getLogLevel(): LogLevel {
  return currentLevel;
}

/** Replaces the output sink (null restores the console). */
export function setLogSink(next: LogSink | null): void {
  sink = next ?? defaultSink;
}

/** Adds an observer that sees every emitted line (used by pages to expose logs to tests). */
export function addLogListener(listener: LogSink): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A named logger; `context` tags its lines for listeners (see {@link LogSink}). */
export function createLogger(scope: string, context?: string): Logger {
  const emit = (level: Exclude<LogLevel, 'silent'>, message: string): void => {
    if (ORDER[level] < ORDER[currentLevel]) return;
    sink(level, scope, message, context);
    for (const l of listeners) l(level, scope, message, context);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}
