/** Every log line of a test, captured instead of printed (debug level and up). */
import { afterEach, beforeEach } from 'vitest';
import { setLogLevel, setLogSink } from '../../src/util/logger.ts';

/**
 * Registers hooks that capture each test's log lines as `level [scope] message`
 * in the returned array (emptied before each test). Call it before the file's
 * own hooks: its afterEach then runs last, so lines logged while those stop
 * servers are still captured.
 */
export function useCapturedLogs(): string[] {
  const lines: string[] = [];
  beforeEach(() => {
    lines.length = 0;
    setLogLevel('debug');
    setLogSink((level, scope, message) => lines.push(`${level} [${scope}] ${message}`));
  });
  afterEach(() => {
    setLogSink(null);
    setLogLevel('info');
  });
  return lines;
}
