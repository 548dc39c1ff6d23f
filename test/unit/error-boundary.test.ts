import { ApolloArmor } from '@escape.tech/graphql-armor';
import { buildSchema, GraphQLError, parse, validate, type GraphQLFormattedError } from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/errors.js';
import { armorLimit, LIMIT_TEXT, limitRefusal, shapeEarlyRejection, shapeGraphQLError } from '../../src/error-boundary.js';

const dev = { production: false };
const prod = { production: true };

/**
 * What Apollo hands formatError: the error's JSON, with INTERNAL_SERVER_ERROR when it has no
 * code, `http` taken out, and a stack trace outside production (errorNormalize.ts).
 */
function viaApollo(error: GraphQLError, opts: { production: boolean; onUnexpected?: (e: unknown) => void }): GraphQLFormattedError {
  const { http: _http, ...extensions } = error.extensions;
  const formatted = {
    ...error.toJSON(),
    extensions: {
      ...extensions,
      code: extensions.code ?? 'INTERNAL_SERVER_ERROR',
      ...(opts.production ? {} : { stacktrace: error.stack?.split('\n') }),
    },
  };
  return shapeGraphQLError(formatted, error, opts);
}

/** An error thrown by a resolver, as graphql-js hands it to Apollo (located, with a path). */
const fromResolver = (e: unknown) =>
  new GraphQLError(e instanceof Error ? e.message : String(e), { path: ['product'], originalError: e as Error });

/** Apollo's wrappers of graphql-js errors: a code and a 400 (internalErrorClasses.ts). */
const apolloCoded = (message: string, code: string) => new GraphQLError(message, { extensions: { code, http: { status: 400 } } });

describe('shapeGraphQLError: codes', () => {
  it.each([
    'GRAPHQL_PARSE_FAILED',
    'GRAPHQL_VALIDATION_FAILED',
    'BAD_REQUEST',
    'OPERATION_RESOLUTION_FAILURE',
    'PERSISTED_QUERY_NOT_FOUND',
    'PERSISTED_QUERY_NOT_SUPPORTED',
  ])("turns Apollo's %s into BAD_USER_INPUT, keeping Apollo's code as the reason", (code) => {
    for (const opts of [dev, prod]) {
      const e = viaApollo(apolloCoded('refused', code), opts);
      expect(e.message).toBe('refused');
      expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: code });
    }
  });

  it("keeps Apollo's BAD_USER_INPUT (variable coercion) as it is", () => {
    expect(viaApollo(apolloCoded('Variable "$id" of required type "ID!" was not provided.', 'BAD_USER_INPUT'), prod)).toEqual({
      message: 'Variable "$id" of required type "ID!" was not provided.',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it.each(['NOT_FOUND', 'CONFLICT', 'INSUFFICIENT_STOCK', 'SERVICE_UNAVAILABLE'])('keeps the contract code %s', (code) => {
    expect(viaApollo(new GraphQLError('x', { extensions: { code } }), prod).extensions!.code).toBe(code);
  });

  it('turns a code outside the contract into INTERNAL_SERVER_ERROR', () => {
    const e = viaApollo(new GraphQLError('x', { extensions: { code: 'SOMETHING_ELSE' } }), dev);
    expect(e.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', reason: 'SOMETHING_ELSE' });
  });

  it('shows an AppError with its code, message and details', () => {
    const e = viaApollo(fromResolver(new AppError('INSUFFICIENT_STOCK', 'only 2 left', { productId: 'p1' })), prod);
    expect(e).toMatchObject({ message: 'only 2 left', path: ['product'], extensions: { code: 'INSUFFICIENT_STOCK', productId: 'p1' } });
  });

  it('reads an error of Apollo without a code but with a 4xx status as the client input', () => {
    const e = viaApollo(new GraphQLError('provided sha does not match query', { extensions: { http: { status: 400 } } }), prod);
    expect(e).toEqual({ message: 'provided sha does not match query', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('reports a throttled or unreachable database as SERVICE_UNAVAILABLE', () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    expect(viaApollo(fromResolver(throttled), prod).extensions).toEqual({ code: 'SERVICE_UNAVAILABLE' });
  });
});

describe('shapeGraphQLError: masking', () => {
  it('masks an unexpected error in production: no message, no stack trace; it is reported once', () => {
    const onUnexpected = vi.fn();
    const secret = new Error('secret internal detail');
    const e = viaApollo(fromResolver(secret), { ...prod, onUnexpected });
    expect(e).toEqual({ message: 'Unexpected error', path: ['product'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(onUnexpected).toHaveBeenCalledExactlyOnceWith(secret);
  });

  it('shows an unexpected error with its message and stack trace outside production', () => {
    const e = viaApollo(fromResolver(new Error('secret internal detail')), dev);
    expect(e.message).toBe('Unexpected error: secret internal detail');
    expect(e.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', stacktrace: expect.any(Array) });
  });

  it('leaves no stack trace on client errors in production', () => {
    expect(viaApollo(apolloCoded('Syntax Error: Unexpected <EOF>.', 'GRAPHQL_PARSE_FAILED'), prod).extensions).not.toHaveProperty('stacktrace');
  });

  /** graphql-js's suggestions name parts of the schema; each comes from a different rule. */
  const SUGGESTIONS: [from: string, message: string, code: string, hidden: string][] = [
    ['a misspelled field', 'Cannot query field "produc" on type "Query". Did you mean "product" or "products"?', 'GRAPHQL_VALIDATION_FAILED', 'Cannot query field "produc" on type "Query".'],
    ['a field of another type', 'Cannot query field "email" on type "Node". Did you mean to use an inline fragment on "User"?', 'GRAPHQL_VALIDATION_FAILED', 'Cannot query field "email" on type "Node".'],
    ['a misspelled enum value in a literal', 'Value "PENDIN" does not exist in "OrderStatus" enum. Did you mean the enum value "PENDING"?', 'GRAPHQL_VALIDATION_FAILED', 'Value "PENDIN" does not exist in "OrderStatus" enum.'],
    ['a misspelled enum value in a variable', 'Variable "$s" got invalid value "PENDIN"; Value "PENDIN" does not exist in "OrderStatus" enum. Did you mean the enum value "PENDING"?', 'BAD_USER_INPUT', 'Variable "$s" got invalid value "PENDIN"; Value "PENDIN" does not exist in "OrderStatus" enum.'],
    ['a misspelled argument', 'Unknown argument "fist" on field "Query.featuredProducts". Did you mean "first"?', 'GRAPHQL_VALIDATION_FAILED', 'Unknown argument "fist" on field "Query.featuredProducts".'],
    ['a misspelled type', 'Unknown type "OrderStatu". Did you mean "OrderStatus", "OrderItem", "Order", or "OrderEdge"?', 'GRAPHQL_VALIDATION_FAILED', 'Unknown type "OrderStatu".'],
    ['a misspelled input field', 'Variable "$i" got invalid value { line: [] }; Field "line" is not defined by type "PlaceOrderInput". Did you mean "lines"?', 'BAD_USER_INPUT', 'Variable "$i" got invalid value { line: [] }; Field "line" is not defined by type "PlaceOrderInput".'],
  ];

  it.each(SUGGESTIONS)('strips the suggestion for %s in production and keeps it outside', (_from, message, code, hidden) => {
    expect(viaApollo(apolloCoded(message, code), prod).message).toBe(hidden);
    expect(viaApollo(apolloCoded(message, code), dev).message).toBe(message);
  });
});

describe('shapeGraphQLError: limits', () => {
  const schema = buildSchema('type Query { a: A ping: Boolean } type A { a: A b: Int }');
  /** Runs graphql-armor's own rules, configured through the boundary's hook, as Apollo does. */
  const refusalOf = (query: string) => {
    const armor = new ApolloArmor({
      maxDepth: armorLimit('depth', 3),
      maxAliases: armorLimit('aliases', 2),
      maxDirectives: armorLimit('directives', 2),
      maxTokens: { enabled: false },
      costLimit: { enabled: false },
      blockFieldSuggestion: { enabled: false },
    }).protect();
    const errors = validate(schema, parse(query), armor.validationRules);
    expect(errors).toHaveLength(1);
    return [dev, prod].map((opts) => viaApollo(wrapValidation(errors[0]!), opts));
  };
  /** Apollo's ValidationError: the rule's extensions, with Apollo's code over them. */
  const wrapValidation = (e: GraphQLError) =>
    new GraphQLError(e.message, { nodes: e.nodes, originalError: e, extensions: { http: { status: 400 }, ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } });

  it('words a depth refusal as a limit, with the limit, its maximum and what was found', () => {
    for (const e of refusalOf('{ a { a { a { a { b } } } } }')) {
      expect(e.message).toBe('query depth 5 exceeds the limit of 3');
      expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'depth', max: 3, found: 5 });
    }
  });

  it('words an alias refusal as a limit', () => {
    for (const e of refusalOf('{ x: ping y: ping z: ping }')) {
      expect(e.message).toBe('query alias count 3 exceeds the limit of 2');
      expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'aliases', max: 2, found: 3 });
    }
  });

  it('words a directive refusal as a limit', () => {
    for (const e of refusalOf('{ a @skip(if: false) { b @skip(if: false) } ping @skip(if: false) }')) {
      expect(e.message).toBe('query directive count 3 exceeds the limit of 2');
      expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'directives', max: 2, found: 3 });
    }
  });

  it("words graphql-js's token limit as a limit, not as a syntax error", () => {
    let parseError: GraphQLError | undefined;
    try {
      parse('{ ping ping ping ping ping }', { maxTokens: 5 });
    } catch (e) {
      parseError = e as GraphQLError;
    }
    // Apollo's SyntaxError: graphql-js's message under GRAPHQL_PARSE_FAILED.
    const apollo = new GraphQLError(parseError!.message, {
      source: parseError!.source,
      positions: parseError!.positions,
      originalError: parseError,
      extensions: { code: 'GRAPHQL_PARSE_FAILED', http: { status: 400 } },
    });
    for (const opts of [dev, prod]) {
      const e = viaApollo(apollo, opts);
      expect(e.message).toBe('query token count exceeds the limit of 5');
      expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'tokens', max: 5 });
    }
  });

  it('keeps the call budget refusal, which words itself, with its limit fields', () => {
    const budget = new GraphQLError('Query cost limit exceeded: this operation may cause up to 900 DynamoDB calls; the limit is 300.', {
      extensions: { code: 'BAD_USER_INPUT', limit: 'cost', max: 300, found: 900, http: { status: 400 } },
    });
    expect(viaApollo(budget, prod)).toEqual({
      message: budget.message,
      extensions: { code: 'BAD_USER_INPUT', limit: 'cost', max: 300, found: 900 },
    });
  });

  it('builds a limit refusal that says which limit, without a number found when none is known', () => {
    expect(limitRefusal('tokens', 2000).message).toBe('query token count exceeds the limit of 2000');
    expect(limitRefusal('depth', 10, 25).message).toBe('query depth 25 exceeds the limit of 10');
    expect(limitRefusal('depth', 10, 25).extensions).toEqual({ code: 'BAD_USER_INPUT', limit: 'depth', max: 10, found: 25 });
  });
});

describe('LIMIT_TEXT: the library messages read as text', () => {
  it.each([
    ['graphql-js 16 (its spelling)', 'Syntax Error: Document contains more that 2000 tokens. Parsing aborted.'],
    ['graphql-js 17', 'Syntax Error: Document contains more than 2000 tokens. Parsing aborted.'],
  ])('tokens: reads the maximum from %s', (_from, message) => {
    expect(LIMIT_TEXT.tokens.exec(message)?.[1]).toBe('2000');
  });

  it('tokens: does not read an ordinary syntax error', () => {
    expect(LIMIT_TEXT.tokens.exec('Syntax Error: Expected Name, found "2000".')).toBeNull();
  });

  it.each([
    'Syntax Error: Query depth limit of 10 exceeded, found 25.',
    'Syntax Error: Aliases limit of 15 exceeded, found 25.',
    'Syntax Error: Directives limit of 10 exceeded, found 25.',
  ])('armorFound: reads the number found from "%s"', (message) => {
    expect(LIMIT_TEXT.armorFound.exec(message)?.[1]).toBe('25');
  });
});

describe('shapeEarlyRejection', () => {
  const dynamodb = { calls: 0, operations: {} };

  it('answers a body over the limit with 413 and says the limit', () => {
    expect(shapeEarlyRejection({ status: 413, type: 'entity.too.large', limit: 102400 }, { dynamodb })).toEqual({
      status: 413,
      body: {
        errors: [{ message: 'The request body is larger than the 102400 bytes allowed', extensions: { code: 'BAD_USER_INPUT' } }],
        extensions: { dynamodb },
      },
    });
  });

  it('answers bad JSON with 400 without echoing the parser', () => {
    const r = shapeEarlyRejection({ status: 400, type: 'entity.parse.failed', message: 'Unexpected token } in JSON at position 9' });
    expect(r).toEqual({ status: 400, body: { errors: [{ message: 'The request body is not valid JSON', extensions: { code: 'BAD_USER_INPUT' } }] } });
  });

  it("keeps another client refusal's status and message (an unsupported charset is 415)", () => {
    const r = shapeEarlyRejection({ status: 415, type: 'charset.unsupported', message: 'unsupported charset "LATIN1"' }, { dynamodb });
    expect(r.status).toBe(415);
    expect(r.body.errors).toEqual([{ message: 'unsupported charset "LATIN1"', extensions: { code: 'BAD_USER_INPUT' } }]);
  });

  it('masks a failure that is not the client’s as a 500', () => {
    for (const status of [500, 302, Number.NaN]) {
      expect(shapeEarlyRejection({ status, message: 'EACCES /secret/path' })).toEqual({
        status: 500,
        body: { errors: [{ message: 'Unexpected error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] },
      });
    }
  });

  it("completes Apollo's own early answers (CSRF, wrong method) with the call counts, keeping status and errors", () => {
    const csrf = { message: 'This operation has been blocked as a potential Cross-Site Request Forgery (CSRF).', extensions: { code: 'BAD_USER_INPUT', reason: 'BAD_REQUEST' } };
    expect(shapeEarlyRejection({ status: 400, errors: [csrf] }, { dynamodb })).toEqual({ status: 400, body: { errors: [csrf], extensions: { dynamodb } } });
    const method = shapeEarlyRejection({ status: 405, errors: [{ message: 'Apollo Server supports only GET/POST requests.' }] }, { dynamodb });
    expect(method.status).toBe(405);
    expect(method.body.errors[0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });
});
