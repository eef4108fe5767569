// JSON Schemas of the /admin encryption answers: key status, re-encryption, shred records.

import { object, text, timestamp } from './responses.ts';

const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const integer = { type: 'integer' } as const;

const keyVersion = object({
  version: integer,
  keyId: text,
  state: { type: 'string', enum: ['active', 'previous', 'retired'] },
  createdAt: timestamp,
  retiredAt: nullableTime,
});

const reencryptRun = object({
  targetVersion: integer,
  table: { type: ['string', 'null'] },
  done: integer,
  rewritten: integer,
  total: integer,
  startedAt: timestamp,
  updatedAt: timestamp,
  finishedAt: nullableTime,
});

export const keyStatus = object({
  tenantId: text,
  region: text,
  provider: text,
  rootKeyId: text,
  masterKeyId: text,
  activeVersion: integer,
  dataKeys: { type: 'array', items: keyVersion },
  indexKeys: { type: 'array', items: keyVersion },
  createdAt: timestamp,
  rewrappedAt: nullableTime,
  valuesByVersion: {
    type: 'object', additionalProperties: integer,
    description: 'Values sealed under each data key version, by version number.',
  },
  reencrypt: { anyOf: [reencryptRun, { type: 'null' }] },
}, "A tenant's keyring: ids and states only, never key material.");

export const reencryptStarted = object({
  tenantId: text,
  running: { type: 'boolean' },
}, 'Re-encryption runs in the background; GET the encryption status for its progress.');

export const rootRotations = object({
  regions: {
    type: 'array',
    items: object({ region: text, rootKeyId: text, rewrapped: integer }),
  },
});

export const deletionRecord = object({
  tenantId: text,
  region: text,
  shredded: { type: 'boolean' },
  deletedAt: timestamp,
  keyIds: { type: 'array', items: text },
}, 'What a shred destroyed: the ids of the keys, never the keys.');
