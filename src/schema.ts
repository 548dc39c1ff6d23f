import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { ACCESS_RULES, applyAccessRules, type Rule } from './auth/rules.js';
import { resolvers } from './resolvers/index.js';

/** schema/ sits next to src/ (tsx) or two levels up from dist/src/ (compiled). */
function schemaDir(): string {
  for (const rel of ['../schema', '../../schema']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  throw new Error('Cannot find the schema/ folder with the SDL files');
}

export function loadTypeDefs(): string[] {
  const dir = schemaDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

/**
 * The served schema: SDL and resolvers, with the access rules in front of every root field.
 * `rules` exists for the benchmark's comparison run (rules that allow everything); the server
 * always serves ACCESS_RULES.
 */
export function buildSchema(rules: Readonly<Record<string, Rule>> = ACCESS_RULES): GraphQLSchema {
  return applyAccessRules(makeExecutableSchema({ typeDefs: loadTypeDefs(), resolvers }), rules);
}
