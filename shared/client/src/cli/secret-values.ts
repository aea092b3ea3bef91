import { readFile } from 'node:fs/promises';
import { parse, YAMLParseError } from 'yaml';
import { AbusError } from '@artifact-bus/contracts';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.isBuffer(part) ? part : Buffer.from(part));
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Parses secret values given as a JSON or YAML mapping. YAML's failsafe schema keeps every value
 * text exactly as written (`0123`, `yes`, `null` stay strings); JSON is YAML too. Errors say where
 * and what, and never quote the text: it holds secrets.
 */
export function parseSecretValues(text: string, origin: string): Record<string, string> {
  let document: unknown;
  try {
    document = parse(text, { schema: 'failsafe', uniqueKeys: true });
  } catch (error) {
    const at = error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col} (${error.code})` : '';
    throw new AbusError('BAD_REQUEST', `--values: ${origin} is neither valid JSON nor valid YAML${at}`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new AbusError('BAD_REQUEST', `--values: ${origin} must hold a mapping of key: value pairs`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(document)) {
    if (typeof value !== 'string') {
      throw new AbusError('BAD_REQUEST', `--values: the value of "${key}" in ${origin} is a ${Array.isArray(value) ? 'list' : 'mapping'}; secret values are text`);
    }
    values[key] = value;
  }
  return values;
}

/** Reads `--values`: `@FILE` (JSON or YAML), `@-` (standard input), or the JSON or YAML text itself. */
export async function readSecretValues(source: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<Record<string, string>> {
  if (source === '@-') return parseSecretValues(await readAll(stdin), 'standard input');
  if (!source.startsWith('@')) return parseSecretValues(source, 'the --values text');
  const file = source.slice(1);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new AbusError('BAD_REQUEST', `--values: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  return parseSecretValues(text, file);
}
