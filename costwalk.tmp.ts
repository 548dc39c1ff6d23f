import { parse, validate, specifiedRules, type OperationDefinitionNode } from 'graphql';
import { estimateCalls } from './src/query-cost.js';
import { buildSchema } from './src/schema.js';
const schema = buildSchema();
function attack(levels: number, fan: number) {
  let q = `query { user(id: "u") { ...F0 } }\n`;
  for (let i = 0; i < levels; i++) q += `fragment F${i} on User { ${Array(fan).fill(i + 1 < levels ? `...F${i + 1}` : 'name').join(' ')} }\n`;
  return q;
}
for (const [l, f] of [[8, 4], [10, 4], [11,4], [12, 3]] as const) {
  const q = attack(l, f);
  const doc = parse(q);
  let t = performance.now();
  const errs = validate(schema, doc, specifiedRules);
  const tv = performance.now() - t;
  t = performance.now();
  const op = doc.definitions[0] as OperationDefinitionNode;
  const c = estimateCalls(schema, doc, op, {});
  console.log(l, f, q.length, 'bytes', 'validate', tv.toFixed(1), 'ms', errs.length, 'cost', c, (performance.now() - t).toFixed(1), 'ms');
}
