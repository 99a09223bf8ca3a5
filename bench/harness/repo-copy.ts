/**
 * "Batching off": a copy of the model repository, under os.tmpdir(), whose configs
 * have their dynamic_batching block removed, so the same server runs every request
 * as it comes. Only the named models are copied.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/** Remove `dynamic_batching { ... }` (balanced braces) from protobuf text. */
export function stripDynamicBatching(pbtxt: string): string {
  const re = /dynamic_batching\s*:?\s*\{/g;
  let out = pbtxt;
  let m: RegExpExecArray | null;
  while ((m = re.exec(out)) !== null) {
    let depth = 0;
    let i = m.index + m[0].length - 1;
    for (; i < out.length; i++) {
      if (out[i] === '{') depth++;
      else if (out[i] === '}' && --depth === 0) break;
    }
    out = out.slice(0, m.index) + out.slice(i + 1);
    re.lastIndex = m.index;
  }
  return out;
}

export function copyWithoutBatching(repo: string, models: string[]): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(os.tmpdir(), 'osprey-nobatch-'));
  for (const m of models) {
    cpSync(join(repo, m), join(dir, m), { recursive: true });
    const cfg = join(dir, m, 'config.pbtxt');
    writeFileSync(cfg, stripDynamicBatching(readFileSync(cfg, 'utf8')));
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
