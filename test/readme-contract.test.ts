import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ArtifactEvent,
  COPY_CONSUMER,
  ErrorCode,
  EVENTS_STREAM,
  jobSubjects,
  JOBS_BUCKET,
  JOBS_STREAM,
  JobState,
  queueGroups,
  RegistryEvent,
  RegistryEventType,
  subjects,
} from '@artifact-bus/contracts';

const readme = await readFile(path.resolve(import.meta.dirname, '..', 'README.md'), 'utf8');

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(strings);
  return [];
}

/** The README documents the NATS contract; these keep it from drifting from the code. */
describe('README contract', () => {
  it('documents every request/reply subject and queue group', () => {
    const missing = [...strings(subjects.registry), ...strings(subjects.transfer), ...strings(subjects.audit), ...strings(queueGroups)].filter(
      (subject) => !readme.includes(`\`${subject}\``),
    );
    expect(missing).toEqual([]);
  });

  it('documents the events stream, its subjects and every event field', () => {
    expect(readme).toContain(`\`${EVENTS_STREAM}\``);
    expect(readme).toContain('abus.events.artifact.<type>.<store>');
    const missing = Object.keys(ArtifactEvent.shape).filter((field) => !readme.includes(`| \`${field}\` |`));
    expect(missing).toEqual([]);
  });

  it('documents the registry events: their subjects, every field and every type', () => {
    expect(readme).toContain('abus.events.registry.<type>');
    expect(Object.keys(RegistryEvent.shape).filter((field) => !readme.includes(`| \`${field}\` |`))).toEqual([]);
    expect(RegistryEventType.options.filter((type) => !readme.includes(`\`${type}\``))).toEqual([]);
  });

  it('documents the copy-job queue, its consumer, the job-state bucket and every job-state field', () => {
    for (const name of [jobSubjects.copy, JOBS_STREAM, JOBS_BUCKET, COPY_CONSUMER]) expect(readme).toContain(`\`${name}\``);
    expect(Object.keys(JobState.shape).filter((field) => !new RegExp(`\\b${field}\\b`).test(readme))).toEqual([]);
  });

  it('documents every error code', () => {
    expect(ErrorCode.options.filter((code) => !readme.includes(`\`${code}\``))).toEqual([]);
  });
});
