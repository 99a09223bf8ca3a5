/**
 * A small Prometheus text-format reader for the tests: samples with their labels,
 * and the # TYPE of each family.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: PromSample[];
  types: Map<string, string>;
  /** Samples of `name` whose labels include every pair in `match`. */
  find(name: string, match?: Record<string, string>): PromSample[];
  /** The one sample of `name` with exactly these labels; throws if absent. */
  value(name: string, labels: Record<string, string>): number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseProm(text: string): Scrape {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const find = (name: string, match: Record<string, string> = {}): PromSample[] =>
    samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  return {
    samples,
    types,
    find,
    value(name, labels) {
      const keys = Object.keys(labels).sort().join(',');
      const hit = find(name, labels).filter((s) => Object.keys(s.labels).sort().join(',') === keys);
      if (hit.length !== 1) throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${hit.length}`);
      return hit[0]!.value;
    },
  };
}

export async function scrape(metricsUrl: string): Promise<Scrape> {
  const res = await fetch(`${metricsUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return parseProm(await res.text());
}
