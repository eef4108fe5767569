// Route schemas made from zod: JSON Schema for the OpenAPI document, zod for the validation.
import type { FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';
import { TenancyError } from '../errors.ts';
import { describeIssues } from '../stores/validation-detail.ts';

// The JSON Schema a route declares, mapped back to the zod schema it was made from, so requests
// are checked by exactly the rules the library applies (strict keys, size refinements).
const sources = new WeakMap<object, z.ZodType>();

/**
 * The request-side JSON Schema (draft-07, as Fastify's tooling reads it) of a zod schema.
 * Routes declare it so the OpenAPI document shows it; `zodValidatorCompiler` validates with zod.
 */
export function fromZod(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-7', unrepresentable: 'any' });
  const { $schema: _dialect, ...rest } = json as Record<string, unknown>;
  sources.set(rest, schema);
  return rest;
}

/**
 * Fastify validator compiler: runs the zod schema behind a route schema. Failures are
 * VALIDATION_FAILED errors that name fields and never echo values.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const source = sources.get(schema as object);
  if (source === undefined) {
    throw new Error(`the ${httpPart ?? 'request'} schema of a route was not made by fromZod`);
  }
  return (data: unknown) => {
    const result = source.safeParse(data);
    if (result.success) return { value: result.data };
    const detail = describeIssues(source, result.error.issues);
    return { error: new TenancyError('VALIDATION_FAILED', { params: { detail } }) };
  };
};

/** The path parameters of a route, each a plain string checked later by the store. */
export function pathParams<K extends string>(...names: K[]): Record<string, unknown> {
  const shape = Object.fromEntries(names.map((name) => [name, z.string()]));
  return fromZod(z.object(shape));
}
