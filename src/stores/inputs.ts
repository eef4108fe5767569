// Input shapes of the built-in stores, validated once here for the library and the HTTP service.
import { z } from 'zod';
import { TenancyError } from '../errors.ts';
import { describeIssues } from './validation-detail.ts';

/** Ids are URL-safe so `GET /v1/conversations/<id>` needs no escaping. */
export const objectId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'ids are 1-128 URL-safe characters');

const metadata = z.record(z.string(), z.unknown()).refine(
  (value) => JSON.stringify(value).length <= 16_384,
  'metadata is at most 16 KiB of JSON',
);

export const messageInput = z.object({
  id: objectId.optional(),
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string().max(1_000_000),
  ts: z.iso.datetime({ offset: true }).optional(),
}).strict();

export const conversationInput = z.object({
  id: objectId.optional(),
  title: z.string().min(1).max(1000),
  metadata: metadata.optional(),
  messages: z.array(messageInput).max(10_000).optional(),
}).strict();

export const conversationPatch = z.object({
  title: z.string().min(1).max(1000).optional(),
  metadata: metadata.optional(),
}).strict();

/** A reference to the document in the caller's own systems; stored sealed, found by equality. */
export const externalRef = z.string().min(1).max(512);

export const documentInput = z.object({
  id: objectId.optional(),
  title: z.string().min(1).max(1000),
  text: z.string().max(10_000_000),
  externalRef: externalRef.optional(),
  metadata: metadata.optional(),
}).strict();

export const documentPatch = z.object({
  title: z.string().min(1).max(1000).optional(),
  text: z.string().max(10_000_000).optional(),
  externalRef: externalRef.optional(),
  metadata: metadata.optional(),
}).strict();

export const pageInput = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  after: objectId.optional(),
}).strict();

export type MessageInput = z.input<typeof messageInput>;
export type ConversationInput = z.input<typeof conversationInput>;
export type ConversationPatch = z.input<typeof conversationPatch>;
export type DocumentInput = z.input<typeof documentInput>;
export type DocumentPatch = z.input<typeof documentPatch>;
export type PageInput = z.input<typeof pageInput>;

export const documentListInput = pageInput.extend({ externalRef: externalRef.optional() });
export type DocumentListInput = z.input<typeof documentListInput>;

/** Parses input or throws VALIDATION_FAILED naming the fields; values are never echoed. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const detail = describeIssues(schema, result.error.issues);
  throw new TenancyError('VALIDATION_FAILED', { params: { detail } });
}
