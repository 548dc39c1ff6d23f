import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import { batchGet } from '../db/batch-get.js';
import type { Database } from '../db/database.js';
import { ACCESS_PATTERNS } from '../db/access-patterns.js';
import { keys } from '../db/keys.js';
import { queryPage } from '../db/query-pages.js';
import { toConnection, type Connection } from '../model/connection.js';
import { notFound } from '../errors.js';
import { productFromItem, productToItem, type Product } from '../model/product.js';
import { tryConvert, type StoredItemError } from '../model/stored-item.js';

const ulid = monotonicFactory();

export type ProductPage = Connection<Product>;

/** The most DynamoDB calls each write makes (single-item writes); the query cost estimate reads these. */
export const PRODUCT_WRITE_CALLS = { createProduct: 1, updateProduct: 1, deleteProduct: 1 } as const;

export class ProductRepository {
  constructor(private readonly db: Database) {}

  /**
   * Products by id in one BatchGetItem per 100 ids; undefined where a product does not exist,
   * its own StoredItemError where its item is malformed (that id fails, not its batch).
   */
  async getProducts(ids: readonly string[]): Promise<(Product | StoredItemError | undefined)[]> {
    const items = await batchGet(this.db.doc, this.db.tableName, ids.map(keys.product));
    return items.map((i) => (i ? tryConvert(i, productFromItem) : undefined));
  }

  /** Featured products newest first, from the sparse GSI2 (only featured products are in it). */
  async listFeatured(first: number, after?: string | null): Promise<ProductPage> {
    const page = await queryPage(this.db.doc, this.db.tableName, ACCESS_PATTERNS.featuredProducts, '', { first, after });
    return toConnection(page, productFromItem);
  }

  async createProduct(input: {
    name: string;
    description?: string | null;
    priceCents: number;
    stock: number;
    featured?: boolean | null;
  }): Promise<Product> {
    const now = new Date().toISOString();
    const product: Product = {
      id: ulid(),
      name: input.name,
      description: input.description ?? null,
      priceCents: input.priceCents,
      stock: input.stock,
      featured: input.featured ?? false,
      createdAt: now,
      updatedAt: now,
    };
    await this.db.doc.send(
      new PutCommand({ TableName: this.db.tableName, Item: productToItem(product), ConditionExpression: 'attribute_not_exists(PK)' }),
    );
    return product;
  }

  async updateProduct(
    id: string,
    input: { name?: string | null; description?: string | null; priceCents?: number | null; stock?: number | null; featured?: boolean | null },
  ): Promise<Product> {
    const now = new Date().toISOString();
    const set: string[] = ['updatedAt = :now'];
    const remove: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':now': now };
    const assign = (attr: string, value: unknown) => {
      names[`#${attr}`] = attr;
      values[`:${attr}`] = value;
      set.push(`#${attr} = :${attr}`);
    };
    if (input.name != null) assign('name', input.name);
    if (input.description !== undefined) {
      if (input.description === null) {
        names['#description'] = 'description';
        remove.push('#description');
      } else assign('description', input.description);
    }
    if (input.priceCents != null) assign('priceCents', input.priceCents);
    if (input.stock != null) assign('stock', input.stock);
    if (input.featured != null) {
      assign('featured', input.featured);
      // GSI2 is sparse: featuring a product adds the index attributes, un-featuring removes them.
      if (input.featured) {
        const idx = keys.featuredIndex(id);
        assign('GSI2PK', idx.GSI2PK);
        assign('GSI2SK', idx.GSI2SK);
      } else {
        names['#GSI2PK'] = 'GSI2PK';
        names['#GSI2SK'] = 'GSI2SK';
        remove.push('#GSI2PK', '#GSI2SK');
      }
    }
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.product(id),
          UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_exists(PK)',
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return productFromItem(out.Attributes!);
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) throw productNotFound(id);
      throw e;
    }
  }

  /** Orders keep their lines' name and price, so deleting a product loses no order data. */
  async deleteProduct(id: string): Promise<string> {
    try {
      await this.db.doc.send(
        new DeleteCommand({ TableName: this.db.tableName, Key: keys.product(id), ConditionExpression: 'attribute_exists(PK)' }),
      );
      return id;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) throw productNotFound(id);
      throw e;
    }
  }
}

export const productNotFound = (id: string) => notFound(`No product with id ${id}`, { productId: id });
