// The library's input validation (behind the library calls, `tenancy import` and the HTTP
// service) must name fields without quoting the caller's text: an unknown key is the caller's
// own content, and so is every key of a free-form record.
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { isTenancyError } from '../../src/errors.ts';
import { fromZod, zodValidatorCompiler } from '../../src/http/schemas.ts';
import { conversationInput, documentInput, validate } from '../../src/stores/inputs.ts';
import { describeIssues } from '../../src/stores/validation-detail.ts';

function messageOf(work: () => unknown): string {
  try {
    work();
  } catch (err) {
    if (isTenancyError(err, 'VALIDATION_FAILED')) return err.message;
    throw err;
  }
  throw new Error('expected VALIDATION_FAILED');
}

describe('library validation errors', () => {
  it('do not quote an unknown top-level key', () => {
    const message = messageOf(() => validate(conversationInput,
      { title: 't', 'customer-password-hunter2': true }));
    expect(message).not.toContain('hunter2');
    expect(message).toBe('request is invalid: (body): unknown field(s): 1');
  });

  it('do not quote an unknown key of a nested message', () => {
    const message = messageOf(() => validate(conversationInput, {
      title: 't', messages: [{ role: 'user', content: 'hi', 'patient-ssn-123-45-6789': 'x' }],
    }));
    expect(message).not.toContain('123-45-6789');
    expect(message).toBe('request is invalid: messages.0: unknown field(s): 1');
  });

  it('still name a known field and what is wrong with it', () => {
    const message = messageOf(() => validate(documentInput, { title: '', text: 'x' }));
    expect(message).toMatch(/^request is invalid: title: Too small/);
  });

  it('name only the known part of a path that runs through a record key', () => {
    const schema = z.object({ tags: z.record(z.string(), z.number()) }).strict();
    const result = schema.safeParse({ tags: { 'secret-key-name': 'secret-value' } });
    expect(result.success).toBe(false);
    const detail = describeIssues(schema, result.error?.issues ?? []);
    expect(detail).toBe('tags: invalid entry');
  });
});

describe('HTTP validation errors', () => {
  it('do not quote an unknown key either', () => {
    const check = zodValidatorCompiler({
      schema: fromZod(conversationInput), method: 'POST', url: '/v1/conversations',
      httpPart: 'body',
    }) as (data: unknown) => { error?: Error };
    const { error } = check({ title: 't', messages: [{ role: 'user', content: 'hi',
      'patient-ssn-123-45-6789': 'x' }] });
    expect(error?.message).toBe('request is invalid: messages.0: unknown field(s): 1');
  });
});
