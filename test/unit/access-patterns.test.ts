import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ACCESS_PATTERNS, QUERY_MAX_LIMIT, renderAccessPatternTable } from '../../src/db/access-patterns.js';
import { FIELD_COSTS } from '../../src/query-cost.js';
import { README, withAccessPatternTable } from '../../scripts/gen-docs.js';

describe('the access patterns', () => {
  it('are what the README shows (npm run docs:gen)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(withAccessPatternTable(readme, renderAccessPatternTable())).toBe(readme);
  });

  it('each serve GraphQL fields that the cost estimate knows', () => {
    for (const p of Object.values(ACCESS_PATTERNS)) {
      for (const field of p.serves) expect(FIELD_COSTS[field], `${p.name} serves ${field}`).toBeDefined();
    }
  });

  it('read a page of orders with its lines in a bounded number of calls', () => {
    const p = ACCESS_PATTERNS.userOrders;
    // A follow-up read (at most 1,000 items) holds 20 orders of the largest size.
    expect(Math.floor(QUERY_MAX_LIMIT / p.itemsPerNode.max)).toBeGreaterThanOrEqual(20);
    expect(p.maxCallsPerPage).toBe(2);
  });
});
