/** The logger: levels filter lines; listeners see each line with its logger's context (a session's name). */
import { afterEach, describe, expect, it } from 'vitest';
import { addLogListener, createLogger, getLogLevel, setLogLevel, setLogSink } from '../src/util/logger.ts';

describe('logger', () => {
  const level = getLogLevel();
  afterEach(() => {
    setLogLevel(level);
    setLogSink(null);
  });

  it('passes each line with its context to the sink and listeners, below the level to neither', () => {
    const sunk: unknown[][] = [];
    const heard: unknown[][] = [];
    setLogSink((...a) => sunk.push(a));
    const stop = addLogListener((...a) => heard.push(a));
    setLogLevel('warn');
    createLogger('session-host', 'alpha').warn('one');
    createLogger('session-host').error('two');
    createLogger('session-host', 'beta').info('hidden');
    stop();
    createLogger('x').error('after stop');
    expect(heard).toEqual([
      ['warn', 'session-host', 'one', 'alpha'],
      ['error', 'session-host', 'two', undefined],
    ]);
    expect(sunk).toEqual([...heard, ['error', 'x', 'after stop', undefined]]);
  });
});
