/**
 * The fixed suite of operations. The GraphQL documents are sent as-is to the project's server
 * and to the naive variant; the raw SDK baseline dispatches on `operationName` and answers the
 * same JSON (see raw-handlers.ts).
 */
export const QUERIES = {
  /** No DynamoDB call: the fixed cost of a request through each server. */
  Ping: /* GraphQL */ `query Ping { ping }`,
  UserWithAddresses: /* GraphQL */ `
    query UserWithAddresses($id: ID!) {
      user(id: $id) { id name email addresses { id label street city postalCode country } }
    }`,
  UserOrders: /* GraphQL */ `
    query UserOrders($id: ID!) {
      user(id: $id) {
        id name
        orders(first: 10) {
          edges { node { id status totalCents createdAt items { id quantity unitPriceCents product { id name priceCents } } } }
          pageInfo { hasNextPage }
        }
      }
    }`,
  OrderWithItems: /* GraphQL */ `
    query OrderWithItems($id: ID!) {
      order(id: $id) { id status totalCents itemCount createdAt items { id quantity unitPriceCents lineTotalCents product { id name priceCents } } }
    }`,
  UsersWithOrderTotals: /* GraphQL */ `
    query UsersWithOrderTotals($ids: [ID!]!) {
      users(ids: $ids) { id name orders(first: 10) { edges { node { id totalCents } } } }
    }`,
  Products: /* GraphQL */ `
    query Products($ids: [ID!]!) {
      products(ids: $ids) { id name priceCents stock featured }
    }`,
  FeaturedProducts: /* GraphQL */ `
    query FeaturedProducts {
      featuredProducts(first: 50) { edges { node { id name priceCents } } pageInfo { hasNextPage } }
    }`,
  OrdersByStatus: /* GraphQL */ `
    query OrdersByStatus($status: OrderStatus!) {
      ordersByStatus(status: $status, first: 20) { edges { node { id status totalCents user { id name } } } pageInfo { hasNextPage } }
    }`,
  PlaceOrder: /* GraphQL */ `
    mutation PlaceOrder($input: PlaceOrderInput!) {
      placeOrder(input: $input) { id status totalCents itemCount items { productName quantity lineTotalCents product { id name } } }
    }`,
} as const;

export type OperationName = keyof typeof QUERIES;

/** Page sizes fixed by the documents above (the raw baseline needs them). */
export const PAGE = { userOrders: 10, usersOrders: 10, featured: 50, byStatus: 20 } as const;

export function requestBody(operationName: OperationName, variables: Record<string, unknown>): string {
  return JSON.stringify({ operationName, query: QUERIES[operationName], variables });
}
