// The built-in data model: conversations, their messages, and documents.
import type { Migration } from '../storage/migrations.ts';

const tenantColumn = 'tenant_id text NOT NULL DEFAULT tenancy.current_tenant()';

export const builtinMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'conversations, messages and documents',
    up: ({ table, secure }) => `
CREATE TABLE ${table('conversations')} (
  ${tenantColumn},
  id text NOT NULL,
  title text NOT NULL,
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
  content text NOT NULL,
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
  title text NOT NULL,
  text text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
${secure('documents')}`,
  },
];
