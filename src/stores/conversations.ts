// Conversations and their messages, read and written inside one tenant session.
import { randomUUID } from 'node:crypto';
import type { FieldCipher, TenantCipher } from '../crypto/tenant-cipher.ts';
import { TenancyError } from '../errors.ts';
import type { TenantSession } from '../storage/session.ts';
import {
  conversationInput, conversationPatch, messageInput, objectId, pageInput, validate,
  type ConversationInput, type ConversationPatch, type MessageInput, type PageInput,
} from './inputs.ts';

export interface Message {
  id: string;
  conversationId: string;
  position: number;
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  ts: string | null;
  createdAt: string;
}

export interface Conversation {
  id: string;
  title: string;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface ConversationWithMessages extends Conversation {
  messages: Message[];
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; null on the last one. */
  next: string | null;
}

// Title and content are envelopes (bytea): pg returns a Buffer, PGlite a Uint8Array.
interface ConversationRow {
  id: string;
  title: Uint8Array;
  metadata: Record<string, unknown> | string;
  created_at: Date;
  updated_at: Date;
}

interface MessageRow {
  id: string;
  conversation_id: string;
  position: number;
  role: Message['role'];
  content: Uint8Array;
  ts: Date | null;
  created_at: Date;
}

export const iso = (value: Date | string): string => new Date(value).toISOString();

export const json = (value: Record<string, unknown> | string): Record<string, unknown> =>
  typeof value === 'string' ? (JSON.parse(value) as Record<string, unknown>) : value;

function toConversation(row: ConversationRow, title: FieldCipher): Conversation {
  return {
    id: row.id,
    title: title.openText(row.id, row.title),
    metadata: json(row.metadata),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function toMessage(row: MessageRow, content: FieldCipher): Message {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    position: row.position,
    role: row.role,
    content: content.openText(row.id, row.content),
    ts: row.ts === null ? null : iso(row.ts),
    createdAt: iso(row.created_at),
  };
}

const conversationColumns = 'id, title, metadata, created_at, updated_at';
const messageColumns = 'id, conversation_id, position, role, content, ts, created_at';

/**
 * The tenant's conversations. Every statement runs under the session's tenant; none names it.
 * Titles and message contents are sealed before they leave the process and opened on the way
 * back, each bound to its row, so the database only ever holds envelopes of them.
 */
export class ConversationStore {
  readonly #title: FieldCipher;
  readonly #content: FieldCipher;

  constructor(private readonly session: TenantSession, cipher: TenantCipher) {
    this.#title = cipher.field('conversations', 'title');
    this.#content = cipher.field('messages', 'content');
  }

  #conversation = (row: ConversationRow): Conversation => toConversation(row, this.#title);
  #message = (row: MessageRow): Message => toMessage(row, this.#content);

  /** Inserts a conversation with its messages; an id already used in this tenant is ID_TAKEN. */
  async create(input: ConversationInput): Promise<ConversationWithMessages> {
    const value = validate(conversationInput, input);
    const s = this.session;
    const id = value.id ?? randomUUID();
    const inserted = await s.query<ConversationRow>(
      `INSERT INTO ${s.table('conversations')} (id, title, metadata) VALUES ($1, $2, $3)
       RETURNING ${conversationColumns}`,
      [id, this.#title.seal(id, value.title), JSON.stringify(value.metadata ?? {})],
    );
    const conversation = this.#conversation(inserted.rows[0] as ConversationRow);
    const messages = await this.#insertMessages(conversation.id, 0, value.messages ?? []);
    return { ...conversation, messages };
  }

  /**
   * Inserts a conversation unless its id exists already; returns false when it was skipped.
   * Imports use this so that running one twice adds nothing.
   */
  async createIfAbsent(input: ConversationInput): Promise<boolean> {
    const value = validate(conversationInput, input);
    const s = this.session;
    const id = value.id ?? randomUUID();
    const inserted = await s.query(
      `INSERT INTO ${s.table('conversations')} (id, title, metadata) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id, id) DO NOTHING`,
      [id, this.#title.seal(id, value.title), JSON.stringify(value.metadata ?? {})],
    );
    if (inserted.rowCount === 0) return false;
    await this.#insertMessages(id, 0, value.messages ?? []);
    return true;
  }

  async get(id: string): Promise<ConversationWithMessages | undefined> {
    if (!objectId.safeParse(id).success) return undefined;
    const s = this.session;
    const found = await s.query<ConversationRow>(
      `SELECT ${conversationColumns} FROM ${s.table('conversations')} WHERE id = $1`,
      [id],
    );
    const row = found.rows[0];
    if (row === undefined) return undefined;
    const messages = await s.query<MessageRow>(
      `SELECT ${messageColumns} FROM ${s.table('messages')}
        WHERE conversation_id = $1 ORDER BY position`,
      [id],
    );
    return { ...this.#conversation(row), messages: messages.rows.map(this.#message) };
  }

  async list(page: PageInput = {}): Promise<Page<Conversation>> {
    const { limit, after } = validate(pageInput, page);
    const s = this.session;
    const found = await s.query<ConversationRow>(
      `SELECT ${conversationColumns} FROM ${s.table('conversations')}
        WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2`,
      [after ?? null, limit + 1],
    );
    const items = found.rows.slice(0, limit).map(this.#conversation);
    return { items, next: found.rows.length > limit ? (items.at(-1)?.id ?? null) : null };
  }

  async update(id: string, patch: ConversationPatch): Promise<Conversation | undefined> {
    const value = validate(conversationPatch, patch);
    if (!objectId.safeParse(id).success) return undefined;
    const s = this.session;
    const updated = await s.query<ConversationRow>(
      `UPDATE ${s.table('conversations')}
          SET title = coalesce($2, title), metadata = coalesce($3::jsonb, metadata),
              updated_at = now()
        WHERE id = $1 RETURNING ${conversationColumns}`,
      [id, value.title === undefined ? null : this.#title.seal(id, value.title),
        value.metadata === undefined ? null : JSON.stringify(value.metadata)],
    );
    const row = updated.rows[0];
    return row === undefined ? undefined : this.#conversation(row);
  }

  /** Deletes the conversation and its messages; false when there was none. */
  async delete(id: string): Promise<boolean> {
    if (!objectId.safeParse(id).success) return false;
    const s = this.session;
    const deleted = await s.query(`DELETE FROM ${s.table('conversations')} WHERE id = $1`, [id]);
    return deleted.rowCount === 1;
  }

  /** Appends a message; the conversation row is locked so concurrent appends take turns. */
  async addMessage(conversationId: string, input: MessageInput): Promise<Message> {
    const value = validate(messageInput, input);
    if (!objectId.safeParse(conversationId).success) throw new TenancyError('NOT_FOUND');
    const s = this.session;
    const locked = await s.query(
      `UPDATE ${s.table('conversations')} SET updated_at = now() WHERE id = $1`,
      [conversationId],
    );
    if (locked.rowCount !== 1) throw new TenancyError('NOT_FOUND');
    const last = await s.query<{ position: number | null }>(
      `SELECT max(position) AS position FROM ${s.table('messages')} WHERE conversation_id = $1`,
      [conversationId],
    );
    const next = (last.rows[0]?.position ?? -1) + 1;
    const [message] = await this.#insertMessages(conversationId, next, [value]);
    return message as Message;
  }

  async #insertMessages(
    conversationId: string,
    first: number,
    messages: readonly MessageInput[],
  ): Promise<Message[]> {
    if (messages.length === 0) return [];
    const s = this.session;
    const ids = messages.map((m) => m.id ?? randomUUID());
    // One statement for the whole list: arrays unnest into rows, so a long conversation costs
    // one round trip, not one per message.
    const inserted = await s.query<MessageRow>(
      `INSERT INTO ${s.table('messages')} (id, conversation_id, position, role, content, ts)
       SELECT m.id, $1, m.position, m.role, m.content, m.ts
         FROM unnest($2::text[], $3::int[], $4::text[], $5::bytea[], $6::timestamptz[])
           AS m(id, position, role, content, ts)
       RETURNING ${messageColumns}`,
      [
        conversationId,
        ids,
        messages.map((_, i) => first + i),
        messages.map((m) => m.role),
        messages.map((m, i) => this.#content.seal(ids[i] as string, m.content)),
        messages.map((m) => m.ts ?? null),
      ],
    );
    return inserted.rows.map(this.#message).sort((a, b) => a.position - b.position);
  }
}
