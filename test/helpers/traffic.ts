import type { GqlResponse } from './server.js';
import { mulberry32 } from '../../scripts/seed/seed-data.js';
import { PLACE_ORDER } from './factories.js';

/** Deterministic PRNG (mulberry32, shared with the seed): the same seed gives the same run. */
export const seededRandom = mulberry32;

export type Gql = (query: string, variables?: Record<string, unknown>) => Promise<GqlResponse>;

export type OpKind = 'placeOrder' | 'cancelOrder' | 'updateOrderStatus' | 'readUser' | 'readOrder' | 'readProducts' | 'ordersByStatus';

/** What each operation may answer besides data: anything else (INTERNAL_SERVER_ERROR first) is a bug. */
export const ALLOWED_CODES: Record<OpKind, readonly string[]> = {
  placeOrder: ['INSUFFICIENT_STOCK', 'SERVICE_UNAVAILABLE'],
  // CONFLICT: the order already moved on (or a lost response made a retry see its own write).
  cancelOrder: ['CONFLICT', 'SERVICE_UNAVAILABLE'],
  updateOrderStatus: ['CONFLICT', 'SERVICE_UNAVAILABLE'],
  readUser: ['SERVICE_UNAVAILABLE'],
  readOrder: ['SERVICE_UNAVAILABLE'],
  readProducts: ['SERVICE_UNAVAILABLE'],
  ordersByStatus: ['SERVICE_UNAVAILABLE'],
};

export interface OpResult {
  kind: OpKind;
  /** `ok`, the first error code, or `HTTP <status>` when the body is not GraphQL. */
  outcome: string;
  response: GqlResponse;
  /** Codes of every error in the response. */
  codes: string[];
  ms: number;
  /** performance.now() when the answer came. */
  at: number;
  /** Set for a placed order. */
  orderId?: string;
}

const QUERIES: Record<Exclude<OpKind, 'placeOrder'>, string> = {
  cancelOrder: `mutation($id: ID!) { cancelOrder(id: $id) { id status } }`,
  updateOrderStatus: `mutation($id: ID!, $status: OrderStatus!) { updateOrderStatus(id: $id, status: $status) { id status } }`,
  readUser: `query($id: ID!) { user(id: $id) { id orderCount orders(first: 5) { edges { node { id status items { quantity product { id stock } } } } } } }`,
  readOrder: `query($id: ID!) { order(id: $id) { id status totalCents items { quantity productName product { name stock } } user { id orderCount } } }`,
  readProducts: `query($ids: [ID!]!) { products(ids: $ids) { id stock } }`,
  ordersByStatus: `query($status: OrderStatus!) { ordersByStatus(status: $status, first: 10) { edges { node { id status } } pageInfo { hasNextPage } } }`,
};

/**
 * A random mix of operations over known users and products: orders (1-3 lines, 1-3 units
 * each), cancels and status changes of orders placed earlier in the run, and reads.
 */
export class Traffic {
  readonly placed: string[] = [];
  readonly results: OpResult[] = [];

  constructor(
    private readonly gql: Gql,
    private readonly users: readonly string[],
    private readonly products: readonly string[],
    private readonly rand: () => number,
    private readonly mix: Partial<Record<OpKind, number>> = {
      placeOrder: 40,
      cancelOrder: 12,
      updateOrderStatus: 18,
      readUser: 10,
      readOrder: 10,
      readProducts: 5,
      ordersByStatus: 5,
    },
  ) {}

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.rand() * list.length)]!;
  }

  private nextKind(): OpKind {
    const kinds = Object.entries(this.mix) as [OpKind, number][];
    let r = this.rand() * kinds.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of kinds) {
      r -= w;
      if (r < 0) return this.placed.length === 0 && k !== 'placeOrder' && k !== 'readUser' && k !== 'readProducts' ? 'placeOrder' : k;
    }
    return 'placeOrder';
  }

  /** Runs one random operation and records what it answered. */
  async step(kind: OpKind = this.nextKind()): Promise<OpResult> {
    const started = performance.now();
    let response: GqlResponse;
    switch (kind) {
      case 'placeOrder': {
        const n = 1 + Math.floor(this.rand() * 3);
        const shuffled = [...this.products].sort(() => this.rand() - 0.5).slice(0, n);
        const lines = shuffled.map((productId) => ({ productId, quantity: 1 + Math.floor(this.rand() * 3) }));
        response = await this.gql(PLACE_ORDER, { input: { userId: this.pick(this.users), lines } });
        break;
      }
      case 'cancelOrder':
        response = await this.gql(QUERIES.cancelOrder, { id: this.pick(this.placed) });
        break;
      case 'updateOrderStatus':
        response = await this.gql(QUERIES.updateOrderStatus, {
          id: this.pick(this.placed),
          status: this.pick(['PAID', 'PAID', 'SHIPPED', 'DELIVERED'] as const),
        });
        break;
      case 'readUser':
        response = await this.gql(QUERIES.readUser, { id: this.pick(this.users) });
        break;
      case 'readOrder':
        response = await this.gql(QUERIES.readOrder, { id: this.pick(this.placed) });
        break;
      case 'readProducts':
        response = await this.gql(QUERIES.readProducts, { ids: this.products });
        break;
      case 'ordersByStatus':
        response = await this.gql(QUERIES.ordersByStatus, { status: this.pick(['PENDING', 'PAID', 'CANCELLED'] as const) });
        break;
    }
    const codes = (response.errors ?? []).map((e) => String(e.extensions?.code ?? 'NO_CODE'));
    const orderId = kind === 'placeOrder' ? (response.data?.placeOrder?.id as string | undefined) : undefined;
    if (orderId) this.placed.push(orderId);
    const result: OpResult = {
      kind,
      outcome: response.status >= 300 && !response.errors ? `HTTP ${response.status}` : codes[0] ?? 'ok',
      response,
      codes,
      ms: performance.now() - started,
      at: performance.now(),
      ...(orderId ? { orderId } : {}),
    };
    this.results.push(result);
    return result;
  }

  /**
   * Runs `workers` loops of steps until `total` steps are done or `until()` says stop
   * (checked before each step). Bounded by `total` either way.
   */
  async run(opts: { workers: number; total: number; until?: () => boolean }): Promise<OpResult[]> {
    const mine: OpResult[] = [];
    let started = 0;
    await Promise.all(
      Array.from({ length: opts.workers }, async () => {
        while (started < opts.total && !opts.until?.()) {
          started++;
          mine.push(await this.step());
        }
      }),
    );
    return mine;
  }
}

/** Results that break the contract: 5xx, an error code the operation may not answer with. */
export function contractBreaches(results: readonly OpResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (r.response.status >= 500 || r.response.status === 0) {
      out.push(`${r.kind}: HTTP ${r.response.status} ${JSON.stringify(r.response.errors)}`);
      continue;
    }
    for (const [i, code] of r.codes.entries()) {
      if (!ALLOWED_CODES[r.kind].includes(code)) {
        out.push(`${r.kind}: ${code} ${r.response.errors?.[i]?.message ?? ''}`);
      }
    }
  }
  return out;
}

/** `{ placeOrder: { ok: 10, INSUFFICIENT_STOCK: 2 }, ... }` */
export function tally(results: readonly OpResult[]): Record<string, Record<string, number>> {
  const t: Record<string, Record<string, number>> = {};
  for (const r of results) {
    const row = (t[r.kind] ??= {});
    row[r.outcome] = (row[r.outcome] ?? 0) + 1;
  }
  return t;
}

/**
 * POSTs a GraphQL request (signed in with `opts.token` when given); a body that is not JSON becomes an error with code `NOT_JSON` (so a
 * crash page is counted, not thrown), and no answer within `timeoutMs` an error with code
 * `CLIENT_TIMEOUT` (status 0). Other network errors still throw: the server is gone.
 */
export function httpGql(url: string, opts: { timeoutMs?: number; token?: string } = {}): Gql {
  return async (query, variables) => {
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
      text = await res.text();
    } catch (e) {
      if ((e as Error).name !== 'TimeoutError') throw e;
      return { status: 0, errors: [{ message: `no answer within ${opts.timeoutMs ?? 30_000} ms`, extensions: { code: 'CLIENT_TIMEOUT' } }] };
    }
    try {
      return { ...(JSON.parse(text) as GqlResponse), status: res.status };
    } catch {
      return { status: res.status, errors: [{ message: text.slice(0, 200), extensions: { code: 'NOT_JSON' } }] };
    }
  };
}
