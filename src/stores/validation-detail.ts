// What a failed validation tells the caller: where (known field paths only) and what, never echoing
// the caller's own text — neither values nor the names of keys the schema does not declare.
import type { z } from 'zod';

// The few zod definition fields this module walks; zod's own types are wider than needed.
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: readonly z.ZodType[];
}

function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
}

// The child schema a path segment leads to, or undefined when the segment is not one the schema
// declares (a record key, an unknown key): such a segment is the caller's text.
function step(schema: z.ZodType, segment: PropertyKey): z.ZodType | undefined {
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return typeof segment === 'string' && def.shape !== undefined &&
        Object.hasOwn(def.shape, segment) ? def.shape[segment] : undefined;
    case 'array':
      return typeof segment === 'number' ? def.element : undefined;
    case 'optional': case 'nullable': case 'default': case 'prefault': case 'readonly':
    case 'catch': case 'nonoptional':
      return def.innerType === undefined ? undefined : step(def.innerType, segment);
    case 'pipe':
      return def.in === undefined ? undefined : step(def.in, segment);
    case 'union': {
      for (const option of def.options ?? []) {
        const next = step(option, segment);
        if (next !== undefined) return next;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The longest prefix of `path` made of fields `schema` declares, and whether it is all of it. */
export function knownPath(schema: z.ZodType, path: readonly PropertyKey[]):
  { segments: string[]; whole: boolean } {
  const segments: string[] = [];
  let current: z.ZodType | undefined = schema;
  for (const segment of path) {
    current = current === undefined ? undefined : step(current, segment);
    if (current === undefined) return { segments, whole: false };
    segments.push(String(segment));
  }
  return { segments, whole: true };
}

/**
 * One issue as the caller reads it, e.g. `messages.0: unknown field(s): 1` or
 * `title: Too small: expected string to have >=1 characters`. Zod's own message is kept only
 * for issues it words from the schema (types, bounds, formats, our refinements); an unknown key
 * is counted, and an issue under a key the schema does not declare names only the known field.
 */
export function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue): string {
  const { segments, whole } = knownPath(schema, issue.path);
  const where = segments.join('.') || '(body)';
  if (!whole) return `${where}: invalid entry`;
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${where}: unknown field(s): ${issue.keys.length}`;
    case 'invalid_key': case 'invalid_element':
      return `${where}: invalid entry`;
    case 'invalid_union':
      return `${where}: invalid input`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/** The detail of a VALIDATION_FAILED error: at most five issues, described by `describeIssue`. */
export function describeIssues(schema: z.ZodType, issues: readonly z.core.$ZodIssue[]): string {
  return issues.slice(0, 5).map((issue) => describeIssue(schema, issue)).join('; ');
}
