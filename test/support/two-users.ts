/**
 * The fixture of the ordinary-role tests: a database with two aqevent_user
 * login roles (alice, bob) who may read public.orders, and Aqevent clients
 * for them that are closed with everything else.
 */
import { Aqevent } from '../../src/client.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createRoles, endRoles, type TestRole } from './roles.js';

export interface TwoUsers {
  db: TestDatabase;
  roles: Record<'alice' | 'bob', TestRole>;
  connect(role: TestRole): Promise<Aqevent>;
  close(): Promise<void>;
}

/** `totalType`: the SQL type of public.orders.total. */
export async function twoUsersWithOrders(totalType: 'int' | 'bigint'): Promise<TwoUsers> {
  const db = await createTestDatabase();
  const roles = await createRoles(db, ['alice', 'bob'] as const);
  await db.pool.query(`GRANT aqevent_user TO ${roles.alice.sql}, ${roles.bob.sql};
    CREATE TABLE public.orders (id int PRIMARY KEY, total ${totalType});
    GRANT SELECT ON public.orders TO ${roles.alice.sql}, ${roles.bob.sql};
    SELECT event.enable_capture('public.orders')`); // readers with SELECT only cannot lock it to install capture
  const clients: Aqevent[] = [];
  return {
    db,
    roles,
    async connect(role) {
      const client = await Aqevent.connect({ pool: role.pool });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      await endRoles(roles);
      await db.drop();
    },
  };
}
