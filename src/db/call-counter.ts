import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Counts the DynamoDB requests made on behalf of one GraphQL operation. A middleware on the SDK
 * client (see client.ts) records into the counter of the current async scope, so repositories
 * need not pass it around; the GraphQL layer opens a scope per HTTP request.
 */
export class CallCounter {
  calls = 0;
  readonly operations: Record<string, number> = {};
  consumedCapacityUnits = 0;
  /** The most calls the operation could make, as estimated before it ran (query-cost.ts). */
  estimate: number | undefined;

  record(operation: string): void {
    this.calls += 1;
    this.operations[operation] = (this.operations[operation] ?? 0) + 1;
  }

  addCapacity(units: number): void {
    this.consumedCapacityUnits += units;
  }

  /**
   * What clients see in `extensions.dynamodb`. Consumed capacity stays out (logs and metrics
   * have it): it grows with the size of the items read, so it would tell whether an order that
   * is not the caller's exists, which the access rules hide.
   */
  toJSON() {
    return {
      calls: this.calls,
      operations: { ...this.operations },
      ...(this.estimate !== undefined ? { estimate: this.estimate } : {}),
    };
  }
}

const storage = new AsyncLocalStorage<CallCounter>();

export function runWithCallCounter<T>(counter: CallCounter, fn: () => T): T {
  return storage.run(counter, fn);
}

export function currentCallCounter(): CallCounter | undefined {
  return storage.getStore();
}
