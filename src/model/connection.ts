import type { Page } from '../db/query-pages.js';
import { convertSkippingMalformed } from './stored-item.js';

/** A page of a list as the API shows it (the Relay cursor connection spec). */
export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/**
 * The one way a page of stored items becomes a connection: each node converted, cursors kept.
 * A malformed stored node is left out, reported, rather than failing the page (stored-item.ts
 * says why). Paging stays exact: each cursor is its own node's key, and `endCursor` is the last
 * node read, skipped or not, so the next page starts after it.
 */
export function toConnection<T>(page: Page, fromItem: (item: Record<string, unknown>) => T): Connection<T> {
  return {
    // The edge's cursor is the page node's, still encoded only if read (query-pages.ts pageNode).
    edges: convertSkippingMalformed(page.nodes, (n) => ({
      node: fromItem(n.item),
      get cursor() {
        return n.cursor;
      },
    })),
    pageInfo: {
      hasNextPage: page.hasNextPage,
      get endCursor() {
        return page.endCursor;
      },
    },
  };
}
