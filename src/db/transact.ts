import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { AppError } from '../errors.js';
import { sleepBackoff } from './backoff.js';
import { keyId, type TableKey } from './keys.js';

/** DynamoDB's limit: at most 100 actions per TransactWriteItems. */
export const TRANSACTION_MAX_ACTIONS = 100;

/** Sends of one transaction at most: the first and its retries after transaction conflicts. */
export const TRANSACT_CONFLICT_ATTEMPTS = 5;

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** A transaction action with a label that errors use to say which item failed. */
export interface LabelledAction {
  /** e.g. `product:01H...` — what a failure of this action is about. */
  label: string;
  action: TransactItem;
}

export interface CancellationReason {
  label: string;
  key: TableKey;
  /** `ConditionalCheckFailed`, `TransactionConflict`, `ValidationError`, ... */
  code: string;
  message?: string | undefined;
  /** The item as stored when its condition failed (ReturnValuesOnConditionCheckFailure). */
  item?: Record<string, unknown> | undefined;
}

/**
 * Thrown when DynamoDB cancels a transaction. `reasons` lists only the actions that failed,
 * each with its label, key and code, so callers can map them to API errors (which product had
 * too little stock, which email was taken).
 */
export class TransactionCancelledError extends Error {
  override name = 'TransactionCancelledError';
  constructor(
    readonly reasons: CancellationReason[],
    options?: { cause?: unknown },
  ) {
    super(
      `Transaction cancelled: ${reasons.map((r) => `${r.label} (${r.code})`).join(', ') || 'no reason given'}`,
      options,
    );
  }

  /**
   * The first action whose label starts with `prefix` and whose condition failed, if any.
   * Only ConditionalCheckFailed says something about the stored item; other codes do not.
   */
  find(prefix: string): CancellationReason | undefined {
    return this.reasons.find((r) => r.code === 'ConditionalCheckFailed' && r.label.startsWith(prefix));
  }

  /** A concurrent transaction held one of the items: the outcome is unknown until retried. */
  get hasConflict(): boolean {
    return this.reasons.some((r) => r.code === 'TransactionConflict');
  }

  /** DynamoDB cancelled it because a partition (of the table or an index) was over its throughput. */
  get wasThrottled(): boolean {
    return this.reasons.some((r) => r.code === 'ThrottlingError');
  }
}

function actionKey(a: TransactItem): { table: string; key: TableKey } {
  const op = a.Put ?? a.Update ?? a.Delete ?? a.ConditionCheck;
  if (!op) throw new Error('Transaction action without Put, Update, Delete or ConditionCheck');
  const key = ('Item' in op ? op.Item : op.Key) as unknown as TableKey;
  return { table: op.TableName!, key: { PK: key.PK, SK: key.SK } };
}

/**
 * Pure: validates the actions against DynamoDB's rules and builds the command input.
 * Conditions ask DynamoDB to return the stored item on failure, so errors can say why.
 */
export function buildTransactInput(actions: readonly LabelledAction[], token?: string): TransactWriteCommandInput {
  if (actions.length === 0) throw new Error('A transaction needs at least one action');
  if (actions.length > TRANSACTION_MAX_ACTIONS) {
    throw new AppError(
      'BAD_USER_INPUT',
      `A transaction holds at most ${TRANSACTION_MAX_ACTIONS} actions; this one needs ${actions.length}`,
    );
  }
  const seen = new Set<string>();
  for (const a of actions) {
    const { table, key } = actionKey(a.action);
    const id = `${table}\u0000${keyId(key)}`;
    // DynamoDB rejects two actions on one item with a ValidationException; say so earlier.
    if (seen.has(id)) throw new Error(`Two actions on one item in a transaction: ${key.PK} ${key.SK}`);
    seen.add(id);
  }
  return {
    TransactItems: actions.map(({ action }) => {
      const op = action.Put ?? action.Update ?? action.Delete ?? action.ConditionCheck;
      if (op?.ConditionExpression && !op.ReturnValuesOnConditionCheckFailure) {
        op.ReturnValuesOnConditionCheckFailure = 'ALL_OLD';
      }
      return action;
    }),
    // Idempotency for the SDK's own retries: a retried request with the same token is applied
    // at most once (tokens are valid for 10 minutes, at most 36 characters).
    ClientRequestToken: token ?? randomUUID(),
  };
}

export interface TransactOptions {
  /** Attempts when DynamoDB reports only TransactionConflict (a concurrent transaction). */
  conflictAttempts?: number;
  token?: string;
}

/**
 * Runs TransactWriteItems. Cancellations become TransactionCancelledError with one reason per
 * failed action, in the order of the actions. Cancellations that involve a transaction
 * conflict or throttling are retried with backoff, as AWS recommends; past the attempts they are
 * SERVICE_UNAVAILABLE.
 */
export async function transactWrite(
  doc: DynamoDBDocumentClient,
  actions: readonly LabelledAction[],
  opts: TransactOptions = {},
): Promise<void> {
  const input = buildTransactInput(actions, opts.token);
  const attempts = opts.conflictAttempts ?? TRANSACT_CONFLICT_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      await doc.send(new TransactWriteCommand(input));
      return;
    } catch (e) {
      const cancelled = toCancelledError(e, actions);
      if (!cancelled) throw e;
      // Retried even when a condition failed alongside: without the conflict the next attempt
      // either succeeds or fails on its conditions alone, which then say the real reason.
      // Throttling (a hot partition of the table or of an index) is retried the same way.
      if (cancelled.hasConflict || cancelled.wasThrottled) {
        if (attempt >= attempts) {
          throw new AppError(
            'SERVICE_UNAVAILABLE',
            cancelled.hasConflict
              ? `The write kept conflicting with concurrent writes after ${attempts} attempts; try again`
              : `DynamoDB kept throttling the write after ${attempts} attempts; try again`,
            {},
            { cause: cancelled },
          );
        }
        // A new token: the same token with a cancelled transaction would be replayed as-is.
        input.ClientRequestToken = randomUUID();
        await sleepBackoff(attempt);
        continue;
      }
      throw cancelled;
    }
  }
}

export function toCancelledError(e: unknown, actions: readonly LabelledAction[]): TransactionCancelledError | undefined {
  if (!(e instanceof TransactionCanceledException) && (e as { name?: string })?.name !== 'TransactionCanceledException') {
    return undefined;
  }
  const raw = (e as TransactionCanceledException).CancellationReasons ?? [];
  const reasons: CancellationReason[] = [];
  raw.forEach((r, i) => {
    if (!r.Code || r.Code === 'None') return;
    const a = actions[i];
    if (!a) return;
    reasons.push({
      label: a.label,
      key: actionKey(a.action).key,
      code: r.Code,
      message: r.Message,
      item: r.Item ? unmarshallLoose(r.Item as Record<string, unknown>) : undefined,
    });
  });
  return new TransactionCancelledError(reasons, { cause: e });
}

/** Reasons carry the item in DynamoDB JSON; the DocumentClient does not convert errors. */
function unmarshallLoose(item: Record<string, unknown>): Record<string, unknown> {
  try {
    return unmarshall(item as Parameters<typeof unmarshall>[0]);
  } catch {
    return item;
  }
}
