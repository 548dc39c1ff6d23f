// vitest's test.env does not reach this process (the one that starts DynamoDB Local).
import '../../src/quiet-sdk-warning.js';
import type { TestProject } from 'vitest/node';
import { startEmbeddedDynamo } from '../../src/db/embedded-dynamodb.js';

/**
 * One DynamoDB Local per test run, in memory, on a free port. Test files isolate themselves
 * by creating their own table (see dynamo.ts), so they can run in parallel.
 */
export default async function setup(project: TestProject) {
  const dynamo = await startEmbeddedDynamo({ port: 0 });
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return async () => {
    await dynamo.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
