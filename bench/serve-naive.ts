/**
 * The naive variant: the same schema (schema/*.graphql) served by the same stack (Apollo Server
 * 5 + express 5), with resolvers that make one GetItem or Query per field and no DataLoader
 * (bench/lib/naive-resolvers.ts).
 */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express from 'express';
import { createServer as createHttpServer } from 'node:http';
import { CallCounter, runWithCallCounter } from '../src/db/call-counter.js';
import { createDatabase } from '../src/db/database.js';
import { loadTypeDefs } from '../src/schema.js';
import { announceReady, instrumentClient, startControlServer, variantEnv } from './lib/instrument.js';
import { naiveResolvers, type NaiveContext } from './lib/naive-resolvers.js';

const { endpoint, tableName } = variantEnv();
const db = createDatabase(tableName, { region: 'us-east-1', endpoint, local: true, maxAttempts: 3, timeoutMs: 10_000 });
instrumentClient(db.client);

const extensions: ApolloServerPlugin<NaiveContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        if (response.body.kind !== 'single') return;
        const r = response.body.singleResult;
        r.extensions = { ...r.extensions, dynamodb: contextValue.calls.toJSON() };
      },
    };
  },
};

const apollo = new ApolloServer<NaiveContext>({
  schema: makeExecutableSchema({ typeDefs: loadTypeDefs(), resolvers: naiveResolvers }),
  introspection: false,
  csrfPrevention: true,
  plugins: [extensions],
});
await apollo.start();
const app = express();
app.disable('x-powered-by');
app.use(
  '/graphql',
  express.json({ limit: '100kb' }),
  (_req, res, next) => {
    const calls = new CallCounter();
    res.locals.calls = calls;
    runWithCallCounter(calls, next);
  },
  expressMiddleware(apollo, { context: async ({ res }) => ({ db, calls: res.locals.calls as CallCounter }) }),
);
const httpServer = createHttpServer(app);
await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
const control = await startControlServer();
announceReady((httpServer.address() as { port: number }).port, control.port);
process.on('SIGTERM', () => process.exit(0));
