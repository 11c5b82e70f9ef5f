import { query, type Queryable } from './query.js';

/** A piece of the install that is missing (event triggers need a superuser), and what that costs. */
export interface InstallGap {
  missing: string;
  consequence: string;
}

/** event._capture_health(): empty when the install is complete. */
export async function installGaps(db: Queryable): Promise<InstallGap[]> {
  return query<InstallGap>(db, 'install check', 'SELECT missing, consequence FROM event._capture_health()');
}
