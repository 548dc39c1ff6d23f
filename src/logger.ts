import { pino, type Logger } from 'pino';

/** JSON lines on stdout (pino: fast, structured, the de-facto Node standard). */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'variables'], remove: true },
  });
}
