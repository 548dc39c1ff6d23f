/**
 * The naive variant: the same schema (schema/*.graphql) served by the same stack (Apollo Server
 * 5 + express 5, mounted by src/http-graphql.ts like the server's), with resolvers that make one
 * GetItem or Query per field and no DataLoader (bench/lib/naive-resolvers.ts).
 */
import { ApolloServer } from '@apollo/server';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express from 'express';
import { createServer as createHttpServer } from 'node:http';
import { DEFAULT_LIMITS } from '../src/config.js';
import { countedDatabase } from '../src/db/call-counter.js';
import { createDatabase } from '../src/db/database.js';
import { dynamoExtensionsPlugin, mountGraphQL } from '../src/http-graphql.js';
import { loadTypeDefs } from '../src/schema.js';
import { announceReady, instrumentClient, startControlServer, VARIANT_TIMEOUT_MS, variantEnv } from './lib/instrument.js';
import { naiveResolvers, type NaiveContext } from './lib/naive-resolvers.js';

const { endpoint, tableName, requestHandler } = variantEnv();
const db = createDatabase(tableName, { region: 'us-east-1', endpoint, local: true, maxAttempts: 3, timeoutMs: VARIANT_TIMEOUT_MS, requestHandler });
instrumentClient(db.client);

const apollo = new ApolloServer<NaiveContext>({
  schema: makeExecutableSchema({ typeDefs: loadTypeDefs(), resolvers: naiveResolvers }),
  introspection: false,
  csrfPrevention: true,
  plugins: [dynamoExtensionsPlugin()],
});
await apollo.start();
const app = express();
app.disable('x-powered-by');
mountGraphQL(app, apollo, {
  bodyLimitBytes: DEFAULT_LIMITS.bodyLimitBytes,
  dynamoExtensions: true,
  context: async (calls) => ({ db: countedDatabase(db, calls), calls }),
});
const httpServer = createHttpServer(app);
await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
const control = await startControlServer();
announceReady((httpServer.address() as { port: number }).port, control.port);
process.on('SIGTERM', () => process.exit(0));
