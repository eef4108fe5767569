// JSON Schemas of what the service answers: they document the API and serialize replies fast.

export const text = { type: 'string' } as const;
export const timestamp = { type: 'string', format: 'date-time' } as const;
const metadata = { type: 'object', additionalProperties: true } as const;

/** A closed object schema whose properties are all required. */
export function object(properties: Record<string, unknown>, description?: string) {
  return {
    type: 'object',
    ...(description === undefined ? {} : { description }),
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  } as const;
}

/** `{ error: { code, message, requestId } }`, the body of every answer that is not a success. */
export const errorBody = object({
  error: object({ code: text, message: text, requestId: text }),
}, 'The stable code comes from the error catalogue; the message never echoes request values.');

export const message = object({
  id: text,
  conversationId: text,
  position: { type: 'integer' },
  role: { type: 'string', enum: ['system', 'user', 'assistant', 'tool'] },
  content: text,
  ts: { type: ['string', 'null'], format: 'date-time' },
  createdAt: timestamp,
});

const conversationFields = {
  id: text, title: text, metadata, createdAt: timestamp, updatedAt: timestamp,
};

export const conversation = object(conversationFields);

export const conversationWithMessages = object({
  ...conversationFields,
  messages: { type: 'array', items: message },
});

const documentFields = {
  id: text, title: text, metadata, createdAt: timestamp, updatedAt: timestamp,
};

// Present only on documents that were given one.
const externalRef = {
  type: 'string', description: "The document's reference in the caller's own systems.",
} as const;

function withOptional<S extends { properties: object }>(schema: S, optional: object): S {
  return { ...schema, properties: { ...schema.properties, ...optional } };
}

export const documentSummary = withOptional(object(documentFields), { externalRef });

export const tenantDocument = withOptional(object({ ...documentFields, text }), { externalRef });

/** `{ items, next }`: pass `next` as `after` to read the following page; null on the last. */
export function page(item: object) {
  return object({
    items: { type: 'array', items: item },
    next: { type: ['string', 'null'] },
  });
}

export const tenant = object({
  id: text,
  displayName: text,
  region: text,
  isolation: { type: 'string', enum: ['database', 'schema', 'row'] },
  status: { type: 'string', enum: ['creating', 'active', 'suspended', 'deleting', 'deleted'] },
  schemaVersion: { type: 'integer' },
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const apiKeyInfo = object({
  keyId: text,
  tenantId: text,
  createdAt: timestamp,
  revokedAt: { type: ['string', 'null'], format: 'date-time' },
});

export const issuedApiKey = object({
  keyId: text,
  tenantId: text,
  secret: { type: 'string', description: 'The bearer token; shown only in this answer.' },
  createdAt: timestamp,
});

export const createdTenant = object({
  tenant,
  apiKey: object({ keyId: text, secret: issuedApiKey.properties.secret }),
});

export const noContent = { type: 'null', description: 'No content.' } as const;

/** Success schema plus the shared error body for every 4xx and 5xx answer. */
export function answers(success: Record<number, object>): Record<string, object> {
  return { ...success, '4xx': errorBody, '5xx': errorBody };
}
