import Table from 'cli-table3';
import { Option } from 'commander';

export type OutputFormat = 'table' | 'json';

/** `--output table|json`, on every command that prints records. */
export const outputOption = () => new Option('-o, --output <format>', 'table or json').choices(['table', 'json']).default('table');

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints rows as a table, or the records as JSON. */
export function printRecords<T>(format: OutputFormat, records: T[], columns: [header: string, cell: (record: T) => string][]): void {
  if (format === 'json') return printJson(records);
  if (records.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const table = new Table({ head: columns.map(([header]) => header), style: { head: [], border: [] } });
  for (const record of records) table.push(columns.map(([, cell]) => cell(record)));
  process.stdout.write(`${table.toString()}\n`);
}

/** Prints one record as key/value lines, or JSON. */
export function printRecord(format: OutputFormat, record: Record<string, unknown>): void {
  if (format === 'json') return printJson(record);
  const table = new Table({ style: { head: [], border: [] } });
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    table.push({ [key]: typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value) });
  }
  process.stdout.write(`${table.toString()}\n`);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function humanBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}
