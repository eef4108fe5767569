// Documents: a title and a text, read and written inside one tenant session.
import { randomUUID } from 'node:crypto';
import type { TenantSession } from '../storage/session.ts';
import { iso, json, type Page } from './conversations.ts';
import {
  documentInput, documentPatch, objectId, pageInput, validate,
  type DocumentInput, type DocumentPatch, type PageInput,
} from './inputs.ts';

export interface TenantDocument {
  id: string;
  title: string;
  text: string;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

interface DocumentRow {
  id: string;
  title: string;
  text: string;
  metadata: Record<string, unknown> | string;
  created_at: Date;
  updated_at: Date;
}

const columns = 'id, title, text, metadata, created_at, updated_at';

function toDocument(row: DocumentRow): TenantDocument {
  return {
    id: row.id,
    title: row.title,
    text: row.text,
    metadata: json(row.metadata),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** Lists leave the text out: a page of titles should not carry megabytes. */
export type DocumentSummary = Omit<TenantDocument, 'text'>;

export class DocumentStore {
  constructor(private readonly session: TenantSession) {}

  async create(input: DocumentInput): Promise<TenantDocument> {
    const value = validate(documentInput, input);
    const s = this.session;
    const inserted = await s.query<DocumentRow>(
      `INSERT INTO ${s.table('documents')} (id, title, text, metadata) VALUES ($1, $2, $3, $4)
       RETURNING ${columns}`,
      [value.id ?? randomUUID(), value.title, value.text, JSON.stringify(value.metadata ?? {})],
    );
    return toDocument(inserted.rows[0] as DocumentRow);
  }

  async get(id: string): Promise<TenantDocument | undefined> {
    if (!objectId.safeParse(id).success) return undefined;
    const s = this.session;
    const found = await s.query<DocumentRow>(
      `SELECT ${columns} FROM ${s.table('documents')} WHERE id = $1`,
      [id],
    );
    const row = found.rows[0];
    return row === undefined ? undefined : toDocument(row);
  }

  async list(page: PageInput = {}): Promise<Page<DocumentSummary>> {
    const { limit, after } = validate(pageInput, page);
    const s = this.session;
    const found = await s.query<DocumentRow>(
      `SELECT id, title, '' AS text, metadata, created_at, updated_at FROM ${s.table('documents')}
        WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2`,
      [after ?? null, limit + 1],
    );
    const items = found.rows.slice(0, limit).map((row) => {
      const { text: _text, ...summary } = toDocument(row);
      return summary;
    });
    return { items, next: found.rows.length > limit ? (items.at(-1)?.id ?? null) : null };
  }

  async update(id: string, patch: DocumentPatch): Promise<TenantDocument | undefined> {
    const value = validate(documentPatch, patch);
    if (!objectId.safeParse(id).success) return undefined;
    const s = this.session;
    const updated = await s.query<DocumentRow>(
      `UPDATE ${s.table('documents')}
          SET title = coalesce($2, title), text = coalesce($3, text),
              metadata = coalesce($4::jsonb, metadata), updated_at = now()
        WHERE id = $1 RETURNING ${columns}`,
      [id, value.title ?? null, value.text ?? null,
        value.metadata === undefined ? null : JSON.stringify(value.metadata)],
    );
    const row = updated.rows[0];
    return row === undefined ? undefined : toDocument(row);
  }

  async delete(id: string): Promise<boolean> {
    if (!objectId.safeParse(id).success) return false;
    const s = this.session;
    const deleted = await s.query(`DELETE FROM ${s.table('documents')} WHERE id = $1`, [id]);
    return deleted.rowCount === 1;
  }
}
