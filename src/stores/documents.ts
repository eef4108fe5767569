// Documents: a title and a text, read and written inside one tenant session.
import { randomUUID } from 'node:crypto';
import type { FieldCipher, TenantCipher } from '../crypto/tenant-cipher.ts';
import type { TenantSession } from '../storage/session.ts';
import { iso, json, type Page } from './conversations.ts';
import {
  documentInput, documentListInput, documentPatch, objectId, validate,
  type DocumentInput, type DocumentListInput, type DocumentPatch,
} from './inputs.ts';

export interface TenantDocument {
  id: string;
  title: string;
  text: string;
  /** The caller's own reference to the document elsewhere; absent when none was given. */
  externalRef?: string;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

// title, text and external_ref are envelopes (bytea); external_ref_index is the blind index.
interface DocumentRow {
  id: string;
  title: Uint8Array;
  text: Uint8Array | null;
  external_ref: Uint8Array | null;
  metadata: Record<string, unknown> | string;
  created_at: Date;
  updated_at: Date;
}

const columns = 'id, title, text, external_ref, metadata, created_at, updated_at';

/** Lists leave the text out: a page of titles should not carry megabytes. */
export type DocumentSummary = Omit<TenantDocument, 'text'>;

/**
 * The tenant's documents. Title, text and external reference are sealed, each bound to its row;
 * the external reference also gets a blind index (an HMAC under the tenant's index key), so it
 * can be looked up by equality without the database ever seeing it.
 */
export class DocumentStore {
  readonly #cipher: TenantCipher;
  readonly #title: FieldCipher;
  readonly #text: FieldCipher;
  readonly #ref: FieldCipher;

  constructor(private readonly session: TenantSession, cipher: TenantCipher) {
    this.#cipher = cipher;
    this.#title = cipher.field('documents', 'title');
    this.#text = cipher.field('documents', 'text');
    this.#ref = cipher.field('documents', 'external_ref');
  }

  #summary(row: DocumentRow): DocumentSummary {
    return {
      id: row.id,
      title: this.#title.openText(row.id, row.title),
      ...(row.external_ref === null
        ? {}
        : { externalRef: this.#ref.openText(row.id, row.external_ref) }),
      metadata: json(row.metadata),
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
    };
  }

  #document(row: DocumentRow): TenantDocument {
    const { externalRef, ...rest } = this.#summary(row);
    return {
      id: rest.id,
      title: rest.title,
      text: this.#text.openText(row.id, row.text as Uint8Array),
      ...(externalRef === undefined ? {} : { externalRef }),
      metadata: rest.metadata,
      createdAt: rest.createdAt,
      updatedAt: rest.updatedAt,
    };
  }

  #index(ref: string): Buffer {
    return this.#cipher.blindIndex('documents', 'external_ref', ref);
  }

  async create(input: DocumentInput): Promise<TenantDocument> {
    const value = validate(documentInput, input);
    const s = this.session;
    const id = value.id ?? randomUUID();
    const ref = value.externalRef;
    const inserted = await s.query<DocumentRow>(
      `INSERT INTO ${s.table('documents')}
         (id, title, text, external_ref, external_ref_index, metadata)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${columns}`,
      [id, this.#title.seal(id, value.title), this.#text.seal(id, value.text),
        ref === undefined ? null : this.#ref.seal(id, ref),
        ref === undefined ? null : this.#index(ref),
        JSON.stringify(value.metadata ?? {})],
    );
    return this.#document(inserted.rows[0] as DocumentRow);
  }

  async get(id: string): Promise<TenantDocument | undefined> {
    if (!objectId.safeParse(id).success) return undefined;
    const s = this.session;
    const found = await s.query<DocumentRow>(
      `SELECT ${columns} FROM ${s.table('documents')} WHERE id = $1`,
      [id],
    );
    const row = found.rows[0];
    return row === undefined ? undefined : this.#document(row);
  }

  /** A page of documents by id; with `externalRef`, only those carrying that reference. */
  async list(page: DocumentListInput = {}): Promise<Page<DocumentSummary>> {
    const { limit, after, externalRef } = validate(documentListInput, page);
    const s = this.session;
    const found = await s.query<DocumentRow>(
      `SELECT id, title, NULL::bytea AS text, external_ref, metadata, created_at, updated_at
         FROM ${s.table('documents')}
        WHERE ($1::text IS NULL OR id > $1)
          AND ($2::bytea IS NULL OR external_ref_index = $2)
        ORDER BY id LIMIT $3`,
      [after ?? null, externalRef === undefined ? null : this.#index(externalRef), limit + 1],
    );
    const items = found.rows.slice(0, limit).map((row) => this.#summary(row));
    return { items, next: found.rows.length > limit ? (items.at(-1)?.id ?? null) : null };
  }

  /**
   * Documents whose external reference equals `externalRef`, found through the blind index.
   *
   * @example
   * await t.documents.findByExternalRef('CRM-1042')
   * // SELECT … WHERE external_ref_index = $2  -- $2 = HMAC-SHA256(index key, 'CRM-1042')
   */
  findByExternalRef(externalRef: string, page: Omit<DocumentListInput, 'externalRef'> = {}):
    Promise<Page<DocumentSummary>> {
    return this.list({ ...page, externalRef });
  }

  async update(id: string, patch: DocumentPatch): Promise<TenantDocument | undefined> {
    const value = validate(documentPatch, patch);
    if (!objectId.safeParse(id).success) return undefined;
    const s = this.session;
    const ref = value.externalRef;
    const updated = await s.query<DocumentRow>(
      `UPDATE ${s.table('documents')}
          SET title = coalesce($2, title), text = coalesce($3, text),
              external_ref = coalesce($4, external_ref),
              external_ref_index = coalesce($5, external_ref_index),
              metadata = coalesce($6::jsonb, metadata), updated_at = now()
        WHERE id = $1 RETURNING ${columns}`,
      [id,
        value.title === undefined ? null : this.#title.seal(id, value.title),
        value.text === undefined ? null : this.#text.seal(id, value.text),
        ref === undefined ? null : this.#ref.seal(id, ref),
        ref === undefined ? null : this.#index(ref),
        value.metadata === undefined ? null : JSON.stringify(value.metadata)],
    );
    const row = updated.rows[0];
    return row === undefined ? undefined : this.#document(row);
  }

  async delete(id: string): Promise<boolean> {
    if (!objectId.safeParse(id).success) return false;
    const s = this.session;
    const deleted = await s.query(`DELETE FROM ${s.table('documents')} WHERE id = $1`, [id]);
    return deleted.rowCount === 1;
  }
}
