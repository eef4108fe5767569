// The `?limit=&after=` of list routes: the store's page input, bounded by the server's page size.
import { z } from 'zod';
import { pageInput } from '../stores/inputs.ts';
import { fromZod } from './schemas.ts';

export type PageQuery = z.output<typeof pageInput>;

// Unknown query keys are ignored rather than refused, as a proxy or client may add its own; a
// `?tenant=` among them changes nothing, since the tenant comes from the key.
const lenient = z.object(pageInput.shape);

export const pageQuery = {
  json: fromZod(lenient),

  /** The page to read: `limit` lowered to the configured maximum, only known keys kept. */
  capped(query: PageQuery, maxPageSize: number): PageQuery {
    const limit = Math.min(query.limit, maxPageSize);
    return query.after === undefined ? { limit } : { limit, after: query.after };
  },
};
