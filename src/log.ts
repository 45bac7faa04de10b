/**
 * Structured logs: one JSON line per event (request, job transition), with the job id when
 * there is one, so `grep jobId` tells a job's story.
 */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

type Level = 'info' | 'warn' | 'error';

export function createLogger(base: Record<string, unknown> = {}, sink: (line: string) => void = defaultSink, enabled = true): Logger {
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (!enabled) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }));
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger({ ...base, ...fields }, sink, enabled),
  };
}

function defaultSink(line: string): void {
  process.stdout.write(line + '\n');
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = createLogger({}, () => {}, false);
