// Tenant ids are slugs checked before SQL; quoteIdent refuses any name outside [a-z0-9_-].
import { describe, expect, it } from 'vitest';
import { parseTenantId, TenancyError } from '../../src/index.ts';
import { qualified, quoteIdent } from '../../src/storage/sql.ts';
import { isTenantId } from '../../src/tenant-id.ts';

function refusal(value: unknown): TenancyError {
  try {
    parseTenantId(value);
  } catch (err) {
    expect(err).toBeInstanceOf(TenancyError);
    return err as TenancyError;
  }
  throw new Error(`${JSON.stringify(value)} was accepted`);
}

describe('tenant ids', () => {
  const accepted = [
    'acme', 'abc', 'acme-eu', 'acme-eu-2', 'a1b2c3', 'tenant-42', 'x'.repeat(40),
    `a${'-b'.repeat(19)}`, 'publicity', 'postgresql-fan', 'admins',
  ];

  it.each(accepted)('accepts %s unchanged', (id) => {
    expect(parseTenantId(id)).toBe(id);
    expect(isTenantId(id)).toBe(true);
  });

  const refused: Array<[string, unknown]> = [
    ['a single quote', "acme'"],
    ['a quote-and-OR injection', "x' or '1'='1"],
    ['a double quote', 'acme"'],
    ['a semicolon', 'acme;drop'],
    ['a dot-dot', 'acme..x'],
    ['a lone dot-dot', '..'],
    ['a slash', 'acme/x'],
    ['a path climb', '../etc'],
    ['a backslash', 'acme\\x'],
    ['an encoded slash', 'acme%2Fx'],
    ['uppercase', 'Acme'],
    ['all caps', 'ACME'],
    ['an underscore', 'acme_eu'],
    ['a space', 'acme eu'],
    ['a Cyrillic a', 'аcme'],
    ['a Cyrillic e inside', 'acmе'],
    ['a fullwidth letter', 'ａcme'],
    ['a zero-width space', 'ac\u200bme'],
    ['a trailing newline', 'acme\n'],
    ['a NUL byte', 'acme\u0000'],
    ['two characters', 'ab'],
    ['41 characters', 'x'.repeat(41)],
    ['the empty string', ''],
    ['public', 'public'],
    ['pg-catalog', 'pg-catalog'],
    ['information-schema', 'information-schema'],
    ['postgres', 'postgres'],
    ['template1', 'template1'],
    ['a pg- prefix', 'pg-toast'],
    ['a leading digit', '1acme'],
    ['a leading dash', '-acme'],
    ['a trailing dash', 'acme-'],
    ['a double dash (an SQL comment)', 'acme--x'],
    ['a number', 42],
    ['null', null],
    ['an object', { id: 'acme' }],
  ];

  it.each(refused)('refuses %s with TENANT_ID_INVALID', (_label, value) => {
    const err = refusal(value);
    expect(err.code).toBe('TENANT_ID_INVALID');
    expect(err.status).toBe(400);
    expect(isTenantId(value)).toBe(false);
  });

  it('never repeats the refused value in the message', () => {
    const err = refusal("evil'; drop table tenants; --");
    expect(err.message).not.toContain('drop table');
    expect(JSON.stringify(err)).not.toContain('drop table');
  });
});

describe('quoteIdent', () => {
  it('quotes names made of lowercase letters, digits, _ and -', () => {
    expect(quoteIdent('tenant_acme-eu')).toBe('"tenant_acme-eu"');
    expect(quoteIdent('tenancy_rows')).toBe('"tenancy_rows"');
    expect(quoteIdent('_x1')).toBe('"_x1"');
    expect(quoteIdent('a'.repeat(63))).toBe(`"${'a'.repeat(63)}"`);
    expect(qualified('tenant_acme', 'documents')).toBe('"tenant_acme"."documents"');
  });

  const refused = [
    'Acme', 'a"b', 'a""b', 'a;b', 'a b', 'a.b', 'a/b', 'a\\b', "a'b", '', '1abc', '-abc',
    'а', 'acmé', 'a\u0000', 'a\n', 'a'.repeat(64), 'x"; drop schema public cascade; --',
  ];

  it.each(refused)('refuses %j', (name) => {
    expect(() => quoteIdent(name)).toThrow('refused to quote an identifier outside [a-z0-9_-]');
  });

  it('refuses a bad table inside qualified()', () => {
    expect(() => qualified('tenant_acme', 'docs"; --')).toThrow(/refused to quote/);
    expect(() => qualified('Tenant', 'documents')).toThrow(/refused to quote/);
  });
});
