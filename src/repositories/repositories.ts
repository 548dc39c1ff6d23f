import type { Database } from '../db/database.js';
import { OrderRepository } from './order-repository.js';
import { ProductRepository } from './product-repository.js';
import { UserRepository } from './user-repository.js';

export interface Repositories {
  users: UserRepository;
  products: ProductRepository;
  orders: OrderRepository;
}

export function createRepositories(db: Database): Repositories {
  return { users: new UserRepository(db), products: new ProductRepository(db), orders: new OrderRepository(db) };
}
