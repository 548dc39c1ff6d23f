import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildTemplate, renderTemplate, templatePath } from '../../scripts/gen-infra.js';
import { loadConfig } from '../../src/config.js';
import { tableDefinition } from '../../src/db/table.js';

const checkedIn = readFileSync(templatePath(), 'utf8');
const template = parse(checkedIn);
const table = template.Resources.Table;
const props = table.Properties;
const def = tableDefinition('any-name');

describe('infra/table.yaml', () => {
  it('is exactly what npm run infra:gen produces from the code now', () => {
    expect(checkedIn).toBe(renderTemplate());
    expect(template).toEqual(buildTemplate());
  });

  it('declares one on-demand DynamoDB table with point-in-time recovery', () => {
    expect(Object.keys(template.Resources)).toEqual(['Table']);
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(props.BillingMode).toBe('PAY_PER_REQUEST');
    expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('has the key schema, attribute definitions and indexes of tableDefinition()', () => {
    expect(props.KeySchema).toEqual(def.KeySchema);
    expect(props.AttributeDefinitions).toEqual(def.AttributeDefinitions);
    expect(props.GlobalSecondaryIndexes).toEqual(def.GlobalSecondaryIndexes);
    for (const index of props.GlobalSecondaryIndexes) {
      expect(index.Projection.ProjectionType).toBeDefined();
    }
  });

  it('defines exactly the attributes that some key schema uses, as CloudFormation requires', () => {
    const used = new Set<string>(
      [props.KeySchema, ...props.GlobalSecondaryIndexes.map((i: { KeySchema: unknown }) => i.KeySchema)]
        .flat()
        .map((k: { AttributeName: string }) => k.AttributeName),
    );
    const defined = props.AttributeDefinitions.map((a: { AttributeName: string }) => a.AttributeName);
    expect(new Set(defined)).toEqual(used);
    expect(defined).toHaveLength(used.size);
  });

  it('names the table from a parameter whose default is the server default TABLE_NAME', () => {
    expect(props.TableName).toEqual({ Ref: 'TableName' });
    expect(template.Parameters.TableName.Default).toBe(loadConfig({}).tableName);
    expect(new RegExp(`^${template.Parameters.TableName.AllowedPattern}$`).test('graphql-dynamodb')).toBe(true);
  });

  it('outputs the table name and ARN', () => {
    expect(template.Outputs.TableName.Value).toEqual({ Ref: 'Table' });
    expect(template.Outputs.TableArn.Value).toEqual({ 'Fn::GetAtt': ['Table', 'Arn'] });
  });

  it('keeps the table when the stack is deleted or the table replaced', () => {
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });
});
