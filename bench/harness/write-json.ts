/**
 * A focused bench's results file: the machine it ran on (date, Node, CPUs, load
 * average at the end) followed by the bench's own fields, as indented JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';

export function writeResultsJson(path: string, fields: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg(),
    ...fields,
  }, null, 2)}\n`);
  console.log(`wrote ${path}`);
}
