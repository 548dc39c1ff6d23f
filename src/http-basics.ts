import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import * as zlib from 'node:zlib';

/**
 * The few pieces of HTTP the server needs on plain node:http, each doing what express 5 (and
 * body-parser, finalhandler, accepts) did here before, answer for answer: a JSON body reader
 * with a size limit, Accept negotiation, text answers, a redirect, the 404 page.
 */

/** A request whose body could not be read (status, body-parser's error type, its message). */
export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type?: string,
    readonly limit?: number,
  ) {
    super(message);
  }
}

/** The path and query string of a request target (absolute-form targets too). */
export function splitUrl(url: string | undefined): { path: string; search: string } {
  let target = url ?? '/';
  if (target[0] !== '/') {
    try {
      const u = new URL(target);
      target = u.pathname + u.search;
    } catch {
      // Not a URL (`*`, junk): the path is what was sent.
    }
  }
  const q = target.indexOf('?');
  return q < 0 ? { path: target, search: '' } : { path: target.slice(0, q), search: target.slice(q) };
}

/** A path as express routes compare it: case-insensitive, one trailing slash optional. */
export function routeKey(path: string): string {
  const p = path.toLowerCase();
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

// --- Content-Type ------------------------------------------------------------------------

/** `type/subtype` of a Content-Type header, lower-cased (type-is, as body-parser reads it). */
export function mediaEssence(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase();
}

/**
 * The parameters of one media type in `header` from `start` (RFC 9110, leniently, like the
 * `content-type` package that body-parser and negotiator use): names lower-cased, quoted values
 * unquoted, the first of a repeated name wins. Stops at `stop` (`,` in an Accept header).
 */
function parseMediaType(header: string, start: number, stop = -1): { type: string; params: Record<string, string>; end: number } {
  const len = header.length;
  const isOws = (c: number) => c === 0x20 || c === 0x09;
  const skipValue = (i: number) => {
    while (i < len) {
      const c = header.charCodeAt(i);
      if (c === 0x3b || c === stop) break;
      i++;
    }
    return i;
  };
  const trimEnd = (from: number, to: number) => {
    while (to > from && isOws(header.charCodeAt(to - 1))) to--;
    return to;
  };
  let i = start;
  while (i < len && isOws(header.charCodeAt(i))) i++;
  const typeStart = i;
  i = skipValue(i);
  const type = header.slice(typeStart, trimEnd(typeStart, i));
  const params: Record<string, string> = Object.create(null);
  param: while (i < len) {
    if (header.charCodeAt(i) === stop) break;
    i++; // the ';'
    while (i < len && isOws(header.charCodeAt(i))) i++;
    const keyStart = i;
    while (i < len) {
      const c = header.charCodeAt(i);
      if (c === stop) break param;
      if (c === 0x3b) continue param;
      if (c === 0x3d) {
        const key = header.slice(keyStart, trimEnd(keyStart, i)).toLowerCase();
        i++;
        while (i < len && isOws(header.charCodeAt(i))) i++;
        if (i < len && header.charCodeAt(i) === 0x22) {
          i++;
          let value = '';
          while (i < len) {
            const q = header.charCodeAt(i++);
            if (q === 0x22) {
              i = skipValue(i);
              if (params[key] === undefined) params[key] = value;
              break;
            }
            if (q === 0x5c && i < len) {
              value += header[i++];
              continue;
            }
            value += String.fromCharCode(q);
          }
          continue param;
        }
        const valueStart = i;
        i = skipValue(i);
        if (params[key] === undefined) params[key] = header.slice(valueStart, trimEnd(valueStart, i));
        continue param;
      }
      i++;
    }
  }
  return { type, params, end: i };
}

// --- Accept negotiation (negotiator, as express's req.accepts used it) ----------------------

interface AcceptSpec {
  type: string;
  subtype: string;
  params: Record<string, string>;
  q: number;
  o: number;
}

function parseAccept(header: string): AcceptSpec[] {
  const specs: AcceptSpec[] = [];
  let i = 0;
  while (i < header.length) {
    const m = parseMediaType(header, i, 0x2c);
    i = m.end + 1;
    const slash = m.type.indexOf('/');
    if (slash < 0) continue;
    const { q, ...params } = m.params;
    specs.push({
      type: m.type.slice(0, slash).toLowerCase(),
      subtype: m.type.slice(slash + 1).toLowerCase(),
      params,
      q: q ? parseFloat(q) : 1,
      o: specs.length,
    });
  }
  return specs;
}

/**
 * Which of `offered` (bare `type/subtype`s, in the server's order of preference) the request's
 * Accept header prefers; the first one without an Accept header; false if it accepts none.
 */
export function preferredType<T extends string>(accept: string | undefined, offered: readonly T[]): T | false {
  if (!accept) return offered[0] ?? false;
  const specs = parseAccept(accept);
  const ranked = offered
    .map((type, i) => {
      const slash = type.indexOf('/');
      const [t, s] = [type.slice(0, slash), type.slice(slash + 1)];
      let best = { o: -1, q: 0, s: 0, i };
      for (const spec of specs) {
        let score = 0;
        if (spec.type === t) score |= 4;
        else if (spec.type !== '*') continue;
        if (spec.subtype === s) score |= 2;
        else if (spec.subtype !== '*') continue;
        const keys = Object.keys(spec.params);
        if (keys.length > 0) {
          // The offered types carry no parameters: only wildcard parameters match them.
          if (keys.every((k) => spec.params[k] === '*' || spec.params[k] === '')) score |= 1;
          else continue;
        }
        if ((best.s - score || best.q - spec.q || best.o - spec.o) < 0) best = { o: spec.o, q: spec.q, s: score, i };
      }
      return best;
    })
    .filter((p) => p.q > 0)
    .sort((a, b) => b.q - a.q || b.s - a.s || a.o - b.o || a.i - b.i);
  return ranked.length ? offered[ranked[0]!.i]! : false;
}

// --- Answers -----------------------------------------------------------------------------

/**
 * Ends `res` with a text body, as express's res.send did for a string: a Content-Type (HTML
 * when none was set) with charset=utf-8, Content-Length, and no body for a HEAD request.
 */
export function sendText(req: IncomingMessage, res: ServerResponse, body: string, contentType?: string): void {
  const type = contentType ?? (res.getHeader('content-type') as string | undefined) ?? 'text/html';
  res.setHeader('content-type', /;\s*charset=/i.test(type) ? type : `${type}; charset=utf-8`);
  res.setHeader('content-length', Buffer.byteLength(body));
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  sendText(req, res, JSON.stringify(value), 'application/json; charset=utf-8');
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** encodeurl: percent-encodes what a URL may not hold, leaving valid escapes alone. */
const encodeUrl = (url: string) =>
  url
    .replace(/([\uD800-\uDBFF][\uDC00-\uDFFF])|[\uD800-\uDFFF]/g, (_, pair: string | undefined) => pair ?? '\uFFFD')
    .replace(/(?:[^\x21\x23-\x3B\x3D\x3F-\x5F\x61-\x7A\x7C\x7E]+|%+(?![0-9A-Fa-f]{2})){1,1024}/g, encodeURI);

/** A 302 to `location` (a path), worded for the Accept header like express's res.redirect. */
export function redirect(req: IncomingMessage, res: ServerResponse, location: string): void {
  const address = encodeUrl(location);
  const kind = preferredType(req.headers.accept, ['text/plain', 'text/html'] as const);
  res.statusCode = 302;
  res.setHeader('location', address);
  res.setHeader('vary', 'Accept');
  let body = '';
  if (kind === 'text/plain') body = `Found. Redirecting to ${address}`;
  else if (kind === 'text/html') {
    body = `<!DOCTYPE html><head><title>Found</title></head><body><p>Found. Redirecting to ${escapeHtml(address)}</p></body>`;
  }
  if (kind) res.setHeader('content-type', `${kind}; charset=utf-8`);
  res.setHeader('content-length', Buffer.byteLength(body));
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/** The answer to OPTIONS on a path served for GET (and so HEAD), as express's router gave it. */
export function allowGetOnly(res: ServerResponse): void {
  const allow = 'GET, HEAD';
  res.statusCode = 200;
  res.setHeader('allow', allow);
  res.setHeader('content-length', Buffer.byteLength(allow));
  res.setHeader('content-type', 'text/plain');
  res.setHeader('x-content-type-options', 'nosniff');
  res.end(allow);
}

/** 404 for a path nothing serves: finalhandler's page, as express answered. */
export function notFound(req: IncomingMessage, res: ServerResponse): void {
  const message = escapeHtml(`Cannot ${req.method} ${encodeUrl(splitUrl(req.url).path)}`)
    .replace(/\n/g, '<br>')
    .replace(/ {2}/g, ' &nbsp;');
  const body = `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>${message}</pre>\n</body>\n</html>\n`;
  res.statusCode = 404;
  res.setHeader('content-security-policy', "default-src 'none'");
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

// --- JSON bodies (body-parser's json(), as express.json() read them) ---------------------------

/** Whether the request has a body at all (type-is's hasBody). */
const hasBody = (req: IncomingMessage) => req.headers['transfer-encoding'] !== undefined || !isNaN(req.headers['content-length'] as unknown as number);

/** Reads the rest of the request and throws it away; resolves when it is over. */
function discard(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.complete || req.destroyed) return resolve();
    req.once('end', resolve);
    req.once('close', resolve);
    req.once('error', () => resolve());
    req.resume();
  });
}

function decompressor(encoding: string): Transform | undefined {
  switch (encoding) {
    case 'gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd': {
      // Node 22.15 and later.
      const zstd = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
      return zstd?.();
    }
    default:
      return undefined;
  }
}

/**
 * A text decoder for a UTF charset, or undefined. `utf-16` without a byte order mark is read
 * little-endian unless its zero bytes say big-endian (iconv-lite's guess, which body-parser used).
 */
function decoderFor(charset: string): ((buf: Buffer) => string) | undefined {
  switch (charset) {
    case 'utf-8':
      return (buf) => {
        const text = buf.toString('utf8');
        return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
      };
    case 'utf-16le':
    case 'utf-16be': {
      const decoder = new TextDecoder(charset);
      return (buf) => decoder.decode(buf);
    }
    case 'utf-16':
      return (buf) => {
        let be = buf[0] === 0xfe && buf[1] === 0xff;
        if (!be && !(buf[0] === 0xff && buf[1] === 0xfe)) {
          let even = 0;
          let odd = 0;
          for (let i = 0; i + 1 < Math.min(buf.length, 100); i += 2) {
            if (buf[i] === 0 && buf[i + 1] !== 0) even++;
            if (buf[i] !== 0 && buf[i + 1] === 0) odd++;
          }
          be = even > odd;
        }
        return new TextDecoder(be ? 'utf-16be' : 'utf-16le').decode(buf);
      };
    default:
      return undefined;
  }
}

/**
 * The request's JSON body, read like express.json({ limit }): undefined when there is no body or
 * it is not `application/json`; `{}` for an empty one; gzip, deflate and br bodies inflated with
 * the limit on the inflated size. Throws a BodyError (after reading the rest of the request,
 * so the connection stays usable) for an unsupported charset or encoding (415), a body over the
 * limit (413), or one that is not a JSON object or array (400).
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  const contentType = req.headers['content-type'];
  let charset = 'utf-8';
  // What nearly every client sends is taken as it is; anything else is parsed.
  if (contentType !== 'application/json') {
    if (mediaEssence(contentType) !== 'application/json') return undefined;
    charset = (parseMediaType(contentType!, 0).params.charset ?? '').toLowerCase() || 'utf-8';
    if (!charset.startsWith('utf-')) throw new BodyError(415, `unsupported charset "${charset.toUpperCase()}"`, 'charset.unsupported');
  }

  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  let inflate: Transform | undefined;
  let length: number | undefined;
  if (encoding === 'identity') {
    const declared = req.headers['content-length'];
    if (declared !== undefined && !isNaN(Number(declared))) length = parseInt(declared, 10);
  } else {
    inflate = decompressor(encoding);
    if (!inflate) throw new BodyError(415, `unsupported content encoding "${encoding}"`, 'encoding.unsupported');
    req.pipe(inflate);
  }
  const stream: Readable = inflate ?? req;
  /** Detaches and destroys the decompression stream, so that its errors after this are none. */
  const detach = () => {
    if (!inflate) return;
    req.unpipe(inflate);
    inflate.on('error', () => {});
    inflate.destroy();
  };

  const fail = async (error: BodyError): Promise<never> => {
    detach();
    await discard(req);
    throw error;
  };
  const decode = decoderFor(charset);
  if (!decode) return fail(new BodyError(415, `unsupported charset "${charset.toUpperCase()}"`, 'charset.unsupported'));
  const tooLarge = () => new BodyError(413, 'request entity too large', 'entity.too.large', limit);
  if (length !== undefined && length > limit) return fail(tooLarge());

  let buf: Buffer;
  try {
    buf = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let received = 0;
      const done = (err: BodyError | undefined) => {
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.off('error', onError);
        req.off('close', onClose);
        if (err) reject(err);
        else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
      };
      const onData = (chunk: Buffer) => {
        received += chunk.length;
        if (received > limit) done(tooLarge());
        else chunks.push(chunk);
      };
      const onEnd = () =>
        done(length !== undefined && received !== length ? new BodyError(400, 'request size did not match content length', 'request.size.invalid') : undefined);
      const onError = (e: Error) => done(new BodyError(400, e.message));
      const onClose = () => {
        if (!req.complete) done(new BodyError(400, 'request aborted', 'request.aborted'));
      };
      stream.on('data', onData);
      stream.on('end', onEnd);
      stream.on('error', onError);
      req.on('close', onClose);
    });
  } catch (e) {
    return fail(e as BodyError);
  }
  if (inflate) {
    detach();
    req.resume(); // whatever followed the compressed data
  }

  const text = decode(buf);
  if (text.length === 0) return {};
  // Strict: an object or an array, like body-parser's default.
  const first = text[0] === '{' ? '{' : /^[\x20\x09\x0a\x0d]*(.|$)/s.exec(text)![1];
  if (first !== '{' && first !== '[') throw new BodyError(400, 'not a JSON object or array', 'entity.parse.failed');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BodyError(400, (e as Error).message, 'entity.parse.failed');
  }
}
