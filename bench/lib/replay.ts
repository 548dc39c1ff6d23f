/**
 * Record / replay of DynamoDB's answers, below the SDK (bench/README.md, "Replay").
 *
 * The variants' DynamoDB client gets this smithy HttpHandler in place of the SDK's
 * NodeHttpHandler (the `requestHandler` of ClientOptions, src/db/client.ts), so everything above
 * the socket runs as usual: the DocumentClient's marshalling, serialization, SigV4 signing,
 * retries, every middleware (call counting included), deserialization.
 *
 * - record:<file>: passes each request to a real NodeHttpHandler (the same bounded waits as the
 *   production config), reads the answer's body fully, keeps (key -> status, headers, body) and
 *   returns an equivalent response (a Readable of the same bytes). Written to <file> when the
 *   process exits (the harness stops it with SIGTERM).
 * - replay:<file>: answers from the recording, without any network. The answer is delivered on a
 *   later macrotask (setImmediate), as a socket read would be, so DataLoader batches and the
 *   order of resolver continuations are those of a live run. A request that was not recorded is
 *   answered at once with a 400 ValidationException (not retried by the SDK: the GraphQL answer
 *   carries an error, which the harness counts) and counted (`GET /replay` on the control server).
 *
 * Key: the X-Amz-Target header + the JSON body as the SDK serialized it. ClientRequestToken (a
 * fresh idempotency token per TransactWriteItems) is dropped from the key; writes are not
 * replayed by the harness anyway (placeOrder bodies carry fresh ULIDs and timestamps), nor are
 * the stream reader's calls (they follow time, not requests). Every read of the load phase
 * (Query, GetItem, BatchGetItem) is a pure function of the GraphQL request.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { HttpResponse, type HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpHandlerOptions } from '@smithy/types';

export interface RecordedAnswer {
  status: number;
  headers: Record<string, string>;
  /** base64 */
  body: string;
}

export interface Recording {
  version: 1;
  entries: Record<string, RecordedAnswer>;
}

export interface ReplayStats {
  mode: 'record' | 'replay' | 'off';
  file?: string;
  /** Distinct keys recorded (record) or loaded (replay). */
  entries: number;
  hits: number;
  misses: number;
  /** The first few keys that had no recorded answer (truncated). */
  missed: string[];
}

const stats: ReplayStats = { mode: 'off', entries: 0, hits: 0, misses: 0, missed: [] };

export function replayStats(): ReplayStats {
  return stats;
}

function header(request: HttpRequest, name: string): string {
  const h = request.headers;
  return h[name] ?? Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1] ?? '';
}

function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (body === undefined || body === null) return '';
  throw new Error(`bench replay: unsupported request body (${typeof body})`);
}

/** X-Amz-Target + body, with the per-call random token removed. */
export function requestKey(request: HttpRequest): string {
  let body = bodyText(request.body);
  if (body.includes('"ClientRequestToken"')) {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    delete parsed.ClientRequestToken;
    body = JSON.stringify(parsed);
  }
  return `${header(request, 'x-amz-target')}\n${body}`;
}

function bodyStream(bytes: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return;
      sent = true;
      this.push(bytes);
      this.push(null);
    },
  });
}

async function readAll(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** The shape the SDK's `requestHandler` accepts as a handler instance (smithy HttpHandler). */
interface BenchHttpHandler {
  readonly metadata: { handlerProtocol: string };
  handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }>;
  updateHttpClientConfig(key: never, value: never): void;
  httpHandlerConfigs(): Record<string, unknown>;
  destroy(): void;
}

/** Records every answer of a real NodeHttpHandler. */
class RecordingHandler implements BenchHttpHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  private readonly inner: NodeHttpHandler;
  readonly entries = new Map<string, RecordedAnswer>();

  constructor(timeoutMs: number) {
    // The production client's bounded waits (src/db/client.ts clientConfig).
    this.inner = new NodeHttpHandler({ connectionTimeout: Math.min(timeoutMs, 2000), requestTimeout: timeoutMs, throwOnRequestTimeout: true });
  }

  async handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }> {
    const key = requestKey(request);
    const { response } = await this.inner.handle(request, options);
    const bytes = await readAll(response.body);
    // Only successful answers are kept: a throttled or failed attempt is not the operation's answer.
    if (response.statusCode === 200) {
      this.entries.set(key, { status: response.statusCode, headers: { ...response.headers }, body: bytes.toString('base64') });
      stats.entries = this.entries.size;
    }
    return { response: new HttpResponse({ statusCode: response.statusCode, reason: response.reason, headers: response.headers, body: bodyStream(bytes) }) };
  }

  updateHttpClientConfig(key: never, value: never): void {
    this.inner.updateHttpClientConfig(key, value);
  }

  httpHandlerConfigs(): Record<string, unknown> {
    return this.inner.httpHandlerConfigs() as Record<string, unknown>;
  }

  destroy(): void {
    this.inner.destroy();
  }

  save(file: string): void {
    const recording: Recording = { version: 1, entries: Object.fromEntries(this.entries) };
    writeFileSync(file, JSON.stringify(recording));
  }
}

interface Prepared {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const MISS_BODY = Buffer.from(
  JSON.stringify({ __type: 'com.amazon.coral.validate#ValidationException', message: 'bench replay: no recorded answer for this request' }),
);

/** Answers from a recording, no network. */
class ReplayingHandler implements BenchHttpHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  private readonly answers = new Map<string, Prepared>();

  constructor(recording: Recording) {
    for (const [key, a] of Object.entries(recording.entries)) {
      this.answers.set(key, { status: a.status, headers: a.headers, body: Buffer.from(a.body, 'base64') });
    }
    stats.entries = this.answers.size;
  }

  handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
    const key = requestKey(request);
    const answer = this.answers.get(key);
    if (!answer) {
      stats.misses++;
      if (stats.missed.length < 5) {
        stats.missed.push(key.slice(0, 300));
        process.stderr.write(`bench replay: no recorded answer for ${key.slice(0, 300)}\n`);
      }
      return Promise.resolve({
        response: new HttpResponse({ statusCode: 400, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: bodyStream(MISS_BODY) }),
      });
    }
    stats.hits++;
    // A later macrotask, like the socket read that would have delivered it.
    return new Promise((resolve) => {
      setImmediate(() =>
        resolve({ response: new HttpResponse({ statusCode: answer.status, headers: { ...answer.headers }, body: bodyStream(answer.body) }) }),
      );
    });
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, unknown> {
    return {};
  }

  destroy(): void {}
}

/**
 * The handler BENCH_REPLAY_HANDLER asks for (`record:<file>` or `replay:<file>`; set by the harness
 * for the replay phase only), or undefined: the SDK's own NodeHttpHandler, as in production.
 */
export function replayHandlerFromEnv(timeoutMs: number): BenchHttpHandler | undefined {
  const spec = process.env.BENCH_REPLAY_HANDLER;
  if (!spec) return undefined;
  const i = spec.indexOf(':');
  const mode = spec.slice(0, i);
  const file = spec.slice(i + 1);
  if (i < 0 || !file || (mode !== 'record' && mode !== 'replay')) throw new Error(`BENCH_REPLAY_HANDLER must be record:<file> or replay:<file>, not ${spec}`);
  stats.mode = mode;
  stats.file = file;
  if (mode === 'record') {
    const handler = new RecordingHandler(timeoutMs);
    process.on('exit', () => handler.save(file));
    return handler;
  }
  return new ReplayingHandler(JSON.parse(readFileSync(file, 'utf8')) as Recording);
}
