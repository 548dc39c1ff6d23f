import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { buildTransactInput, toCancelledError, type LabelledAction } from '../../src/db/transact.js';
import { AppError } from '../../src/errors.js';

const put = (pk: string, label = pk): LabelledAction => ({
  label,
  action: { Put: { TableName: 't', Item: { PK: pk, SK: 'X' }, ConditionExpression: 'attribute_not_exists(PK)' } },
});

describe('buildTransactInput', () => {
  it('asks for the stored item when a condition fails and sets a client request token', () => {
    const input = buildTransactInput([put('a')]);
    expect(input.TransactItems?.[0]?.Put?.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
    expect(input.ClientRequestToken).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses more than 100 actions with BAD_USER_INPUT', () => {
    const actions = Array.from({ length: 101 }, (_, i) => put(`k${i}`));
    expect(() => buildTransactInput(actions)).toThrow(AppError);
  });

  it('refuses two actions on one item', () => {
    expect(() => buildTransactInput([put('a', 'first'), put('a', 'second')])).toThrow(/Two actions on one item/);
  });

  it('sends the token it is given', () => {
    expect(buildTransactInput([put('a')], 'token-1').ClientRequestToken).toBe('token-1');
  });

  it('leaves unconditioned actions and an explicit ReturnValuesOnConditionCheckFailure as they are', () => {
    const plain: LabelledAction = { label: 'plain', action: { Put: { TableName: 't', Item: { PK: 'b', SK: 'X' } } } };
    const none: LabelledAction = {
      label: 'none',
      action: { Delete: { TableName: 't', Key: { PK: 'c', SK: 'X' }, ConditionExpression: 'attribute_exists(PK)', ReturnValuesOnConditionCheckFailure: 'NONE' } },
    };
    const input = buildTransactInput([plain, none]);
    expect(input.TransactItems?.[0]?.Put).not.toHaveProperty('ReturnValuesOnConditionCheckFailure');
    expect(input.TransactItems?.[1]?.Delete?.ReturnValuesOnConditionCheckFailure).toBe('NONE');
  });

  it('accepts exactly 100 actions, in their order', () => {
    const actions = Array.from({ length: 100 }, (_, i) => put(`k${i}`));
    expect(buildTransactInput(actions).TransactItems?.map((a) => a.Put?.Item?.PK)).toEqual(actions.map((a) => a.label));
  });

  it('refuses a transaction without actions', () => {
    expect(() => buildTransactInput([])).toThrow(/at least one action/);
  });

  it('allows the same key in two tables', () => {
    const other: LabelledAction = { label: 'other', action: { Put: { TableName: 'u', Item: { PK: 'a', SK: 'X' } } } };
    expect(buildTransactInput([put('a'), other]).TransactItems).toHaveLength(2);
  });
});

describe('toCancelledError', () => {
  it('names the failed actions in order with their labels, keys and stored items', () => {
    const e = new TransactionCanceledException({
      message: 'cancelled',
      $metadata: {},
      CancellationReasons: [
        { Code: 'None' },
        { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { PK: { S: 'b' }, stock: { N: '2' } } },
      ],
    });
    const cancelled = toCancelledError(e, [put('a', 'order:1'), put('b', 'product:p1')]);
    expect(cancelled?.reasons).toEqual([
      {
        label: 'product:p1',
        key: { PK: 'b', SK: 'X' },
        code: 'ConditionalCheckFailed',
        message: 'The conditional request failed',
        item: { PK: 'b', stock: 2 },
      },
    ]);
    expect(cancelled?.find('product:')?.item?.stock).toBe(2);
    expect(cancelled?.hasConflict).toBe(false);
  });

  it('ignores errors that are not cancellations', () => {
    expect(toCancelledError(new Error('x'), [])).toBeUndefined();
  });
});
