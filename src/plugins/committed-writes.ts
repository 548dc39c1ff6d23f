import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError, GraphQLResolveInfo } from 'graphql';
import type { Logger } from 'pino';
import type { CommittedWrite, Context } from '../context.js';
import { onStoredValueOutOfRange } from '../model/int-range.js';
import { onMalformedStoredItem } from '../model/stored-item.js';

/**
 * Called by a mutation resolver right after its repository call returned: from here on the
 * write is committed, whatever happens to the answer.
 */
export function recordCommitted(committed: Context['committed'], info: GraphQLResolveInfo, typename: string, id: string): void {
  committed.set(String(info.path.key), { field: info.fieldName, typename, id });
}

/** Pure: the error a client sees for a failure in the answer of a write that committed. */
export function committedError(e: GraphQLFormattedError, w: CommittedWrite): GraphQLFormattedError {
  return {
    ...e,
    message: `${w.field} committed ${w.typename.toLowerCase()} ${w.id}; its answer could not be completed: ${e.message}`,
    extensions: { ...e.extensions, committed: { typename: w.typename, id: w.id } },
  };
}

/**
 * A committed write is never reported as failed. When a mutation's write committed but its
 * answer could not be completed (a nested field failed, a read behind it was unavailable), the
 * error alone would suggest nothing happened and invite a retry that writes twice. Errors under
 * such a mutation's response key keep their code and say what was written, with its id in
 * `extensions.committed`. Runs after formatError, so a masked reason stays masked.
 *
 * Also points the models' stored-item reports (numbers clamped, model/int-range.ts; items
 * malformed, model/stored-item.ts) at the server's logger: both are answers that could not show
 * what is stored as it is, and both are errors to look into.
 */
export function committedWritesPlugin(log: Logger): ApolloServerPlugin<Context> {
  return {
    async serverWillStart() {
      onStoredValueOutOfRange((r) =>
        log.error({ storedValue: r }, `stored ${r.entity} ${r.id} holds numbers outside GraphQL's Int range; read them clamped`),
      );
      onMalformedStoredItem((e) => log.error({ storedItem: { entity: e.entity, key: e.key, problems: e.problems } }, e.message));
    },
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single' || !contextValue.committed?.size) return;
          const result = response.body.singleResult;
          if (!result.errors?.length) return;
          result.errors = result.errors.map((e) => {
            const w = typeof e.path?.[0] === 'string' ? contextValue.committed.get(e.path[0]) : undefined;
            if (!w) return e;
            contextValue.log.warn({ committed: w, path: e.path, code: e.extensions?.code }, 'a committed write could not complete its answer');
            return committedError(e, w);
          });
        },
      };
    },
  };
}
