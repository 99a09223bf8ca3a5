/**
 * A small protobuf text-format reader, enough for the baselines to learn a model's
 * inputs, outputs and max_batch_size from config.pbtxt without Osprey's own config
 * code (the baselines must stay independent of the server they are compared with).
 * Every field becomes an array of values, since any field may repeat.
 */

export type PbtxtValue = string | number | PbtxtMessage;
export interface PbtxtMessage { [field: string]: PbtxtValue[] }

function tokenize(text: string): string[] {
  const re = /\s+|#[^\n]*|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([{}[\]:,;<>])|([^\s{}[\]:,;<>"'#]+)/gy;
  const out: string[] = [];
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    const tok = m[1] ?? m[2] ?? m[3];
    if (tok !== undefined) out.push(tok);
  }
  if (re.lastIndex < text.length) throw new Error(`pbtxt: cannot read near '${text.slice(re.lastIndex, re.lastIndex + 20)}'`);
  return out;
}

function scalar(tok: string): string | number {
  if (tok.startsWith('"') || tok.startsWith("'")) return JSON.parse(tok.startsWith("'") ? `"${tok.slice(1, -1)}"` : tok) as string;
  const n = Number(tok);
  return Number.isNaN(n) ? tok : n;
}

export function parsePbtxt(text: string): PbtxtMessage {
  const toks = tokenize(text);
  let i = 0;
  const message = (close: string | null): PbtxtMessage => {
    const msg: PbtxtMessage = {};
    while (i < toks.length && toks[i] !== close) {
      const field = toks[i++];
      if (toks[i] === ':') i++;
      const push = (v: PbtxtValue): void => void (msg[field] ??= []).push(v);
      const value = (): void => {
        const t = toks[i++];
        if (t === '{' || t === '<') push(message(t === '{' ? '}' : '>'));
        else push(scalar(t));
      };
      if (toks[i] === '[') {
        i++;
        while (toks[i] !== ']') {
          value();
          if (toks[i] === ',') i++;
        }
        i++;
      } else {
        value();
      }
      if (toks[i] === ',' || toks[i] === ';') i++;
    }
    i++; // the closing brace
    return msg;
  };
  return message(null);
}
