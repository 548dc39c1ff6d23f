import { pino, type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

/**
 * pino: one JSON line per entry (fast, structured, the de-facto Node standard). `pretty` (the
 * development default, LOG_FORMAT) renders the same entries for people through pino-pretty in
 * pino's transport worker, so production never loads it.
 */
export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  return pino({
    level,
    base: undefined,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'variables'], remove: true },
    // No worker for a logger that never writes (LOG_LEVEL=silent).
    ...(format === 'pretty' && level !== 'silent'
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  });
}
