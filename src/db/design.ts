import {
  ConditionalCheckFailedException,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

/**
 * The table's key design, versioned. A table records the version it holds (and how many shards
 * its status index has) in one item; a server refuses a table whose design is older than its own,
 * and `npm run migrate` (scripts/migrate.ts) brings a table to the current design.
 *
 * Versions:
 *   1  status index unsharded (`STATUS#<status>`), idempotency records kept forever and, before
 *      per-user keys, keyed `IDEMPOTENCY#<key>` (no design item: a table without one is version 1)
 *   2  status index write-sharded (`STATUS#<status>#<shard>`), idempotency records per user with
 *      an `expiresAt` (TTL)
 */
export const DESIGN_VERSION = 2;

/**
 * Shards of the status index when nothing else is said (STATUS_SHARDS). One index partition key
 * takes about 1,000 writes a second; an order's header is written to its status's partition when
 * placed and on every status change, so 8 shards carry about 8,000 order writes a second per
 * status before throttling, while a page of `ordersByStatus` (an admin's list) costs 8 Queries,
 * made in parallel in one wave. README "Scaling" has the table of orders/s to shards.
 */
export const DEFAULT_STATUS_SHARDS = 8;
/** A page reads every shard: more than this would cost more per page than the call budget allows. */
export const MAX_STATUS_SHARDS = 64;

/** What the server needs to know of the table's layout to build its keys. */
export interface TableLayout {
  statusShards: number;
}

export interface TableDesign extends TableLayout {
  version: number;
}

export const DEFAULT_LAYOUT: TableLayout = Object.freeze({ statusShards: DEFAULT_STATUS_SHARDS });

/** Where the design is recorded (no entity type: never read as data, skipped by the migration). */
export const DESIGN_KEY = { PK: 'META#DESIGN', SK: 'DESIGN' } as const;

/** The attribute DynamoDB's TTL reads (epoch seconds); only idempotency records carry it. */
export const TTL_ATTRIBUTE = 'expiresAt';

/** The design recorded in the table, or undefined when it has none (version 1). */
export async function readDesign(client: DynamoDBClient, tableName: string): Promise<TableDesign | undefined> {
  const out = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { PK: { S: DESIGN_KEY.PK }, SK: { S: DESIGN_KEY.SK } },
      ConsistentRead: true,
    }),
  );
  if (!out.Item) return undefined;
  const version = Number(out.Item.version?.N);
  const statusShards = Number(out.Item.statusShards?.N);
  if (!Number.isInteger(version) || !Number.isInteger(statusShards) || statusShards < 1 || statusShards > MAX_STATUS_SHARDS) {
    throw new DesignError(`Table ${tableName} has an unreadable design record (${DESIGN_KEY.PK}); run \`npm run migrate\` to rewrite it`);
  }
  return { version, statusShards };
}

/**
 * Records `design`. With `onlyIfAbsent`, only a table without a record gets it (a new table;
 * several instances may race to create it). Otherwise it never replaces a newer version's
 * record (a slow run of older code must not undo a newer migration). Returns whether it wrote.
 */
export async function writeDesign(client: DynamoDBClient, tableName: string, design: TableDesign, opts: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          PK: { S: DESIGN_KEY.PK },
          SK: { S: DESIGN_KEY.SK },
          version: { N: String(design.version) },
          statusShards: { N: String(design.statusShards) },
          updatedAt: { S: new Date().toISOString() },
        },
        ...(opts.onlyIfAbsent
          ? { ConditionExpression: 'attribute_not_exists(PK)' }
          : {
              ConditionExpression: 'attribute_not_exists(PK) OR version <= :version',
              ExpressionAttributeValues: { ':version': { N: String(design.version) } },
            }),
      }),
    );
    return true;
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
    if (opts.onlyIfAbsent) return false;
    throw new DesignError(`Table ${tableName} was brought to a newer key design than version ${design.version} meanwhile: run a newer version`);
  }
}

/**
 * The table's design; a table without a record that holds no item at all (made by CloudFormation
 * from infra/table.yaml, or by an older `db:create`) has no data in any older layout: it is
 * given the current design with `statusShards` shards and served.
 */
export async function readOrAdoptDesign(client: DynamoDBClient, tableName: string, statusShards: number | undefined): Promise<TableDesign | undefined> {
  const design = await readDesign(client, tableName);
  if (design) return design;
  const any = await client.send(new ScanCommand({ TableName: tableName, Limit: 1, ProjectionExpression: 'PK' }));
  if ((any.Items?.length ?? 0) > 0 || any.LastEvaluatedKey) return undefined;
  await writeDesign(client, tableName, { version: DESIGN_VERSION, statusShards: statusShards ?? DEFAULT_STATUS_SHARDS }, { onlyIfAbsent: true });
  return readDesign(client, tableName);
}

/** The table cannot be served as it is; the message says what to run. */
export class DesignError extends Error {
  override name = 'DesignError';
}

/**
 * The layout to serve `tableName` with, or a DesignError naming the command that fixes the
 * table: its design is older than this server's (`npm run migrate`), newer (upgrade the server),
 * or laid out for another number of status shards than STATUS_SHARDS asks for.
 */
export function layoutToServe(tableName: string, design: TableDesign | undefined, configuredShards: number | undefined): TableLayout {
  const migrate = '`npm run migrate` (`npm run migrate -- --dry-run` shows what it would change first)';
  if (!design || design.version < DESIGN_VERSION) {
    throw new DesignError(
      `Table ${tableName} uses key design version ${design?.version ?? 1}; this server needs version ${DESIGN_VERSION}. ` +
        `Bring the table up to date with ${migrate}, then start the server again.`,
    );
  }
  if (design.version > DESIGN_VERSION) {
    throw new DesignError(
      `Table ${tableName} uses key design version ${design.version}, newer than this server's ${DESIGN_VERSION}: run a newer version of the server.`,
    );
  }
  if (configuredShards !== undefined && configuredShards !== design.statusShards) {
    throw new DesignError(
      `STATUS_SHARDS is ${configuredShards} but table ${tableName} is laid out for ${design.statusShards} status shards. ` +
        `Re-shard it with ${migrate}, or unset STATUS_SHARDS to serve it as it is.`,
    );
  }
  return { statusShards: design.statusShards };
}

/**
 * Turns DynamoDB's TTL on for `expiresAt` when it is off. Returns what it found or did. TTL is
 * what bounds the idempotency records' storage; the server ignores expired records itself, as
 * DynamoDB deletes them lazily (up to days later).
 */
export async function ensureTimeToLive(client: DynamoDBClient, tableName: string): Promise<'present' | 'enabled'> {
  const out = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const d = out.TimeToLiveDescription;
  const on = d?.TimeToLiveStatus === 'ENABLED' || d?.TimeToLiveStatus === 'ENABLING';
  if (on && d.AttributeName === TTL_ATTRIBUTE) return 'present';
  if (on) {
    // A table has one TTL attribute; changing it is an operator's decision (and AWS allows one change an hour).
    throw new Error(`TTL on table ${tableName} reads ${d.AttributeName}, not ${TTL_ATTRIBUTE}: idempotency records would never expire. Disable it, then start again`);
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { Enabled: true, AttributeName: TTL_ATTRIBUTE } }),
    );
  } catch (e) {
    // Another instance turned it on in between: it is on for our attribute, or say what it is on.
    if (!/already enabled/i.test((e as Error).message)) throw e;
    const again = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    if (again.TimeToLiveDescription?.AttributeName !== TTL_ATTRIBUTE) throw e;
  }
  return 'enabled';
}
