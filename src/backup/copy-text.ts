// Rows in the text format of Postgres's COPY: one line per row, fields split by tabs, NULL as
// `\N`, and backslash, tab, newline and carriage return escaped. Archives store rows this way,
// so a restore can stream them to the server as they are.
import { TenancyError } from '../errors.ts';
import type { TextRow } from './tenant-export.ts';

const special = /[\\\t\n\r]/;
const specials = /[\\\t\n\r]/g;
const escapes: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const unescapes: Record<string, string> = {
  '\\': '\\', t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', v: '\v',
};
const newline = 0x0a;

/** One field: `\N` for NULL; backslash, tab, newline and CR escaped. */
export function copyField(value: string | null): string {
  if (value === null) return '\\N';
  return special.test(value) ? value.replace(specials, (c) => escapes[c] as string) : value;
}

/**
 * Rows as COPY text, each line ended by a newline.
 *
 * @example
 * encodeCopyRows([['a', null], ['tab\there', '\\x00ff']]) // 'a\t\\N\ntab\\there\t\\\\x00ff\n'
 */
export function encodeCopyRows(rows: readonly TextRow[]): string {
  let text = '';
  for (const row of rows) text += encodeCopyRow(row);
  return text;
}

/** One row as a COPY text line, its newline included. */
export function encodeCopyRow(row: TextRow): string {
  return `${row.map(copyField).join('\t')}\n`;
}

const corrupt = (detail: string): TenancyError =>
  new TenancyError('BACKUP_CORRUPT', { params: { detail } });

function decodeField(field: string): string | null {
  if (field === '\\N') return null;
  if (!field.includes('\\')) return field;
  return field.replace(/\\(.)/g, (_, c: string) => {
    const plain = unescapes[c];
    if (plain === undefined) throw corrupt(`an unknown escape \\${c} in COPY text`);
    return plain;
  });
}

/** Parses COPY text back into rows of `width` fields; another width is BACKUP_CORRUPT. */
export function decodeCopyRows(text: Buffer, width: number, what: string): TextRow[] {
  const rows: TextRow[] = [];
  const lines = text.toString('utf8').split('\n');
  if (lines.pop() !== '') throw corrupt(`${what}: the last row is not ended`);
  for (const line of lines) {
    const fields = width === 0 && line === '' ? [] : line.split('\t');
    if (fields.length !== width) throw corrupt(`${what}: a row has the wrong width`);
    rows.push(fields.map(decodeField));
  }
  return rows;
}

/** Rows in COPY text: its newlines (escaped ones are `\n`, never a raw newline). */
export function countCopyRows(text: Buffer): number {
  let rows = 0;
  for (let at = text.indexOf(newline); at !== -1; at = text.indexOf(newline, at + 1)) rows += 1;
  return rows;
}

/** The same lines with `field` (already escaped) and a tab put before each. */
export function prefixCopyRows(text: Buffer, field: string): Buffer {
  const prefix = Buffer.from(`${field}\t`, 'utf8');
  const pieces: Buffer[] = [];
  let start = 0;
  for (let at = text.indexOf(newline); at !== -1; at = text.indexOf(newline, start)) {
    pieces.push(prefix, text.subarray(start, at + 1));
    start = at + 1;
  }
  if (start !== text.length) throw corrupt('the last row is not ended');
  return Buffer.concat(pieces);
}
