import { defaultFieldResolver, isObjectType, type GraphQLField, type GraphQLSchema } from 'graphql';
import { forbidden, unauthenticated } from '../errors.js';
import { isAdmin, type Caller } from './caller.js';

type Args = Record<string, unknown>;

/**
 * An access rule: a small named predicate, read next to the contract's "Access rules". `before`
 * decides from the caller and the arguments alone, before any read (0 DynamoDB calls); `after`
 * sees what the resolver loaded anyway and returns what the caller may see of it (never a
 * second read).
 */
export interface Rule {
  name: string;
  before?(caller: Caller, args: Args): void;
  after?(caller: Caller, value: unknown): unknown;
}

function requireSignedIn(caller: Caller): asserts caller is Extract<Caller, { kind: 'user' }> {
  if (caller.kind !== 'user') throw unauthenticated('Sign in first: send Authorization: Bearer <token>');
}

/** Open to anyone, signed in or not. */
export const anyone: Rule = { name: 'anyone' };

/** Any signed-in caller (the resolver acts on the caller's own data). */
export const signedIn: Rule = { name: 'signedIn', before: requireSignedIn };

/** Admins only. */
export const admin: Rule = {
  name: 'admin',
  before(caller) {
    requireSignedIn(caller);
    if (!caller.admin) throw forbidden('Only admins may do this');
  },
};

/**
 * A customer on their own data: every user id the arguments name (`pick`) must be the caller's;
 * an id left out means the caller. Admins may name anyone. Decided from the ids, before any read.
 */
export function ownUser(name: string, pick: (args: Args) => readonly unknown[]): Rule {
  return {
    name: `ownUser(${name})`,
    before(caller, args) {
      requireSignedIn(caller);
      if (caller.admin) return;
      for (const id of pick(args)) {
        if (id != null && id !== caller.userId) {
          throw forbidden(`${name} names another user; you may only name your own user id (${caller.userId})`, { argument: name });
        }
      }
    },
  };
}

/**
 * An order is the caller's own (admins see every order). Decided on the order the resolver
 * loaded: one that is not the caller's looks exactly like one that does not exist (null), so an
 * order id reveals nothing. Writes on an order check the owner on the order they read before
 * writing (see `ownerScope`).
 */
export const ownOrder: Rule = {
  name: 'ownOrder',
  before: requireSignedIn,
  after(caller, value) {
    if (value == null || isAdmin(caller)) return value;
    return (value as { userId?: unknown }).userId === (caller as { userId?: string }).userId ? value : null;
  },
};

/** The owner a write on orders must check: none for admins, the caller's id for customers. */
export function ownerScope(caller: Caller): string | undefined {
  return caller.kind === 'user' && !caller.admin ? caller.userId : undefined;
}

const arg = (name: string) => (a: Args) => [a[name]];
const inputField = (name: string) => (a: Args) => [(a.input as Args | undefined)?.[name]];

/**
 * Every root field and its rule: the contract's "Access rules" as data. A field missing here is
 * refused (deny by default), and a test walks the served schema so that none is missing.
 * Nested fields follow their parent: they are reached only through a root field that allowed it.
 */
export const ACCESS_RULES: Readonly<Record<string, Rule>> = {
  'Query.ping': anyone,
  'Query.product': anyone,
  'Query.products': anyone,
  'Query.featuredProducts': anyone,
  'Query.me': signedIn,
  'Query.user': ownUser('id', arg('id')),
  'Query.users': ownUser('ids', (a) => (a.ids as unknown[] | undefined) ?? []),
  'Query.order': ownOrder,
  'Query.ordersByStatus': admin,
  'Mutation.createUser': ownUser('input.id', inputField('id')),
  'Mutation.updateUser': ownUser('id', arg('id')),
  'Mutation.deleteUser': ownUser('id', arg('id')),
  'Mutation.addAddress': ownUser('userId', arg('userId')),
  'Mutation.removeAddress': ownUser('userId', arg('userId')),
  'Mutation.placeOrder': ownUser('input.userId', inputField('userId')),
  'Mutation.cancelOrder': ownOrder,
  'Mutation.createProduct': admin,
  'Mutation.updateProduct': admin,
  'Mutation.deleteProduct': admin,
  'Mutation.updateOrderStatus': admin,
  'Subscription.productUpdated': anyone,
  'Subscription.orderUpdated': ownOrder,
  'Subscription.orderEvents': ownUser('userId', arg('userId')),
};

const denied: Rule = {
  name: 'denied',
  before() {
    throw forbidden('No access rule allows this field');
  },
};

/** Where resolvers and rules find the caller. */
export interface CallerContext {
  caller: Caller;
}

function guard(field: GraphQLField<unknown, CallerContext>, rule: Rule): void {
  const resolve = field.resolve ?? defaultFieldResolver;
  field.resolve = (source, args, context, info) => {
    rule.before?.(context.caller, args);
    if (!rule.after) return resolve(source, args, context, info);
    return Promise.resolve(resolve(source, args, context, info)).then((value) => rule.after!(context.caller, value));
  };
}

/**
 * A subscription: `before` runs when it starts; `after` decides for each event whether this
 * subscriber may see it (an event is delivered only to a subscriber who could read it with a
 * query right now), on the event's own data, never with a read.
 */
function guardSubscription(field: GraphQLField<unknown, CallerContext>, rule: Rule): void {
  const subscribe = field.subscribe;
  if (!subscribe) return;
  field.subscribe = async (source, args, context, info) => {
    rule.before?.(context.caller, args);
    const events = (await subscribe(source, args, context, info)) as AsyncIterator<unknown> & AsyncIterable<unknown>;
    if (!rule.after) return events;
    const after = rule.after;
    // Hand-written so that `return()` reaches the source at once, even while it waits.
    const visible: AsyncIterableIterator<unknown> = {
      async next() {
        for (;;) {
          const r = await events.next();
          if (r.done || after(context.caller, r.value) != null) return r;
        }
      },
      return: async (value?: unknown) => (await events.return?.(value)) ?? { value: undefined, done: true },
      [Symbol.asyncIterator]: () => visible,
    };
    return visible;
  };
}

/**
 * Puts a rule in front of every root field of the schema (in place): the rule's `before` runs
 * before the resolver, its `after` filters what the resolver returns. A refusal is the field's
 * own error (null, its siblings unaffected). Fields without a rule are refused.
 */
export function applyAccessRules(schema: GraphQLSchema, rules: Readonly<Record<string, Rule>> = ACCESS_RULES): GraphQLSchema {
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (!type || !isObjectType(type)) continue;
    const isSubscription = type === schema.getSubscriptionType();
    for (const field of Object.values(type.getFields())) {
      const rule = rules[`${type.name}.${field.name}`] ?? denied;
      if (isSubscription) guardSubscription(field as GraphQLField<unknown, CallerContext>, rule);
      else guard(field as GraphQLField<unknown, CallerContext>, rule);
    }
  }
  return schema;
}
