// The built-in data model: conversations, their messages, and documents.
// Titles, message contents, document texts and external references are envelopes (bytea),
// sealed by the stores under the tenant's data key; see src/crypto/envelope.ts.
import type { Migration } from '../storage/migrations.ts';
import { embeddingTablesSql } from './vector-migration.ts';

const tenantColumn = 'tenant_id text NOT NULL DEFAULT tenancy.current_tenant()';

export const builtinMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'conversations, messages and documents',
    up: ({ table, secure }) => `
CREATE TABLE ${table('conversations')} (
  ${tenantColumn},
  id text NOT NULL,
  title bytea NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
${secure('conversations')}
CREATE TABLE ${table('messages')} (
  ${tenantColumn},
  id text NOT NULL,
  conversation_id text NOT NULL,
  position integer NOT NULL,
  role text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
  content bytea NOT NULL,
  ts timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, conversation_id, position),
  FOREIGN KEY (tenant_id, conversation_id)
    REFERENCES ${table('conversations')} (tenant_id, id) ON DELETE CASCADE
);
${secure('messages')}
CREATE TABLE ${table('documents')} (
  ${tenantColumn},
  id text NOT NULL,
  title bytea NOT NULL,
  text bytea NOT NULL,
  external_ref bytea,
  external_ref_index bytea,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ON ${table('documents')} (tenant_id, external_ref_index)
  WHERE external_ref_index IS NOT NULL;
${secure('documents')}
${embeddingTablesSql({ table, secure })}`,
  },
];
