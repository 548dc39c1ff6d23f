import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The single source of truth for the table: `ensureTable`, `npm run db:create` and the
 * CloudFormation template (infra/table.yaml, checked by a test) are all derived from this.
 */
export const INDEXES = {
  /** A user's orders (and their lines) newest first. */
  userOrders: { name: 'GSI1', pk: 'GSI1PK', sk: 'GSI1SK' },
  /** Featured products only: a sparse index (non-featured products lack GSI2PK). */
  featured: { name: 'GSI2', pk: 'GSI2PK', sk: 'GSI2SK' },
  /** Orders by status, newest first. */
  byStatus: { name: 'GSI3', pk: 'GSI3PK', sk: 'GSI3SK' },
} as const;

export type IndexDef = (typeof INDEXES)[keyof typeof INDEXES];

/** The change stream subscriptions read: old and new image of every item written. */
export const STREAM = { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } as const;

/** Primary key attributes of the base table. */
export const TABLE_KEY = { pk: 'PK', sk: 'SK' } as const;

export function tableDefinition(tableName: string): CreateTableCommandInput {
  const indexes = Object.values(INDEXES);
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: TABLE_KEY.pk, AttributeType: 'S' },
      { AttributeName: TABLE_KEY.sk, AttributeType: 'S' },
      ...indexes.flatMap((i) => [
        { AttributeName: i.pk, AttributeType: 'S' as const },
        { AttributeName: i.sk, AttributeType: 'S' as const },
      ]),
    ],
    KeySchema: [
      { AttributeName: TABLE_KEY.pk, KeyType: 'HASH' },
      { AttributeName: TABLE_KEY.sk, KeyType: 'RANGE' },
    ],
    // Subscriptions are fed by the table's change stream, so every writer is seen (src/events/).
    StreamSpecification: STREAM,
    GlobalSecondaryIndexes: indexes.map((i) => ({
      IndexName: i.name,
      KeySchema: [
        { AttributeName: i.pk, KeyType: 'HASH' as const },
        { AttributeName: i.sk, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    })),
  };
}
