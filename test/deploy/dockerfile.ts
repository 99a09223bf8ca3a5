/**
 * A Dockerfile reader for the tests, enough for the instructions our Dockerfiles use:
 * continuation lines, comments, global and stage ARGs with ${VAR} defaults, FROM ... AS,
 * and exec-form (JSON) ENTRYPOINT/CMD/HEALTHCHECK. No Docker engine exists here, so
 * the tests read the files and run what the runtime stage would run.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  op: string;
  /** The rest of the line, continuations joined with a space. */
  args: string;
  line: number;
}

export interface Stage {
  /** The FROM argument with global ARG defaults substituted. */
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

export interface Dockerfile {
  globalArgs: Map<string, string>;
  stages: Stage[];
  text: string;
}

export function readDockerfile(path: string): Dockerfile {
  const text = readFileSync(path, 'utf8');
  const instructions: Instruction[] = [];
  let current: Instruction | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (current === undefined && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (current !== undefined && line.trimStart().startsWith('#')) return;
    const body = line.endsWith('\\') ? line.slice(0, -1) : line;
    if (current === undefined) {
      const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(body)!;
      current = { op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: i + 1 };
    } else {
      current.args = `${current.args} ${body.trim()}`.trim();
    }
    if (!line.endsWith('\\')) { instructions.push(current); current = undefined; }
  });
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      stages.push({ base: substitute(m[1]!, globalArgs), name: m[2], instructions: [] });
    } else if (stages.length === 0) {
      if (ins.op === 'ARG') {
        const [k, v = ''] = ins.args.split('=');
        globalArgs.set(k!, v);
      }
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { globalArgs, stages, text };
}

export function substitute(s: string, args: ReadonlyMap<string, string>): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a?: string, b?: string) => args.get((a ?? b)!) ?? '');
}

/** The exec form `["a", "b"]` of ENTRYPOINT/CMD (shell form is refused: signals would go to a shell). */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`not exec form: ${args}`);
  return parsed as string[];
}

export function last(stage: Stage, op: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.op === op).at(-1);
}

/** HEALTHCHECK [--opts] CMD ["..."] -> its options and exec-form command. */
export function healthcheck(ins: Instruction): { options: Map<string, string>; command: string[] } {
  const m = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(\[.*\])$/.exec(ins.args);
  if (!m) throw new Error(`HEALTHCHECK not in the form '[--opt=v ...] CMD [exec form]': ${ins.args}`);
  const options = new Map(m[1]!.trim().split(/\s+/).filter((s) => s !== '').map((o) => {
    const [k, v] = o.slice(2).split('=');
    return [k!, v!] as const;
  }));
  return { options, command: execForm(m[2]!) };
}

/** glibc of the base images we accept (Node 24's uWebSockets.js binaries need >= 2.38). */
export function glibcOf(image: string): number | undefined {
  const known: Array<[RegExp, number]> = [
    [/-trixie(-slim)?(@|$)/, 2.41], [/-bookworm(-slim)?(@|$)/, 2.36], [/-bullseye(-slim)?(@|$)/, 2.31],
    [/-ubuntu24\.04(@|$)/, 2.39], [/-ubuntu22\.04(@|$)/, 2.35], [/-ubuntu20\.04(@|$)/, 2.31],
  ];
  return known.find(([re]) => re.test(image))?.[1];
}
