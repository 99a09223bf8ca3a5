/**
 * Protocol buffers text format, parsed into a generic tree with positions.
 *
 * Schema-free on purpose: this file knows the syntax only (what protobuf's
 * `TextFormat::Parser` accepts), and `from-pbtxt.ts` applies the ModelConfig
 * schema, so every schema error can still point at a line and column.
 *
 * Accepted: messages in `{}` or `<>` with an optional `:` before them,
 * `field: value`, lists `field: [a, b]` / `field [ {..}, {..} ]`, fields
 * separated by whitespace or an optional `,` / `;`, `#` comments, strings in
 * either quote style with C escapes (adjacent strings concatenate), integers
 * (decimal, hex, octal, negative), floats (`1.5`, `.5`, `1e3`, `2.0f`, `inf`,
 * `nan`), identifiers (enum names, `true`/`false`).
 */

import { ConfigParseError } from './errors.js';

export { ConfigParseError };

interface Pos { line: number; col: number }

export type PbScalar =
  | (Pos & { kind: 'string'; value: string })
  /** Exact value; the schema decides the range (int32, uint64...). */
  | (Pos & { kind: 'int'; value: bigint })
  | (Pos & { kind: 'float'; value: number })
  /** Enum names, true/false, inf/nan: meaning depends on the field. */
  | (Pos & { kind: 'ident'; value: string });

export interface PbMessage extends Pos { kind: 'message'; fields: PbField[] }

/** `field: [ ... ]`; a repeated field may also be given by repeating the field. */
export interface PbList extends Pos { kind: 'list'; items: (PbScalar | PbMessage)[] }

export type PbValue = PbScalar | PbMessage | PbList;

/** One occurrence of a field; the position is the field name's. */
export interface PbField extends Pos { name: string; value: PbValue }

type TokKind = 'ident' | 'int' | 'float' | 'string' | 'punct' | 'eof';
interface Token extends Pos { kind: TokKind; text: string; str?: string; num?: bigint | number }

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63,
};

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /0[xX][0-9A-Za-z_]*|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[A-Za-z0-9_]*/y;

/** Splits the text into tokens; one instance per parse, not reused. */
class Lexer {
  private i = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly src: string, private readonly file: string) {}

  private fail(line: number, col: number, detail: string): never {
    throw ConfigParseError.at(this.file, line, col, detail);
  }

  /** Consumes what a sticky regex matches at the current offset. */
  private match(re: RegExp): string {
    re.lastIndex = this.i;
    const text = re.exec(this.src)![0];
    this.i += text.length;
    return text;
  }

  next(): Token {
    this.skipSpaceAndComments();
    const { src } = this;
    const line = this.line;
    const col = this.i - this.lineStart + 1;
    if (this.i >= src.length) return { kind: 'eof', text: '', line, col };
    const c = src[this.i]!;
    if (/[A-Za-z_]/.test(c)) {
      const text = this.match(IDENT);
      return { kind: 'ident', text, line, col };
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[this.i + 1] ?? ''))) {
      return this.number(line, col);
    }
    if (c === '"' || c === "'") return this.string(line, col);
    if ('{}<>[]:,;-'.includes(c)) {
      this.i++;
      return { kind: 'punct', text: c, line, col };
    }
    return this.fail(line, col, `unexpected character '${c}'`);
  }

  private skipSpaceAndComments(): void {
    const { src } = this;
    while (this.i < src.length) {
      const c = src[this.i]!;
      if (c === '\n') {
        this.i++;
        this.line++;
        this.lineStart = this.i;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        this.i++;
      } else if (c === '#') {
        while (this.i < src.length && src[this.i] !== '\n') this.i++;
      } else {
        return;
      }
    }
  }

  private number(line: number, col: number): Token {
    // Take trailing letters too, so `12abc` is one bad token rather than the
    // number 12 followed by a field name.
    const text = this.match(NUMBER);
    const int = (v: bigint): Token => ({ kind: 'int', text, num: v, line, col });
    if (/^0[xX][0-9a-fA-F]+$/.test(text)) return int(BigInt(text));
    if (/^0[0-7]+$/.test(text)) return int(BigInt('0o' + text.slice(1))); // C-style octal
    if (/^(?:0|[1-9][0-9]*)$/.test(text)) return int(BigInt(text));
    if (/^(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][+-]?[0-9]+)?[fF]?$/.test(text)) {
      return { kind: 'float', text, num: Number(text.replace(/[fF]$/, '')), line, col };
    }
    return this.fail(line, col, `invalid number '${text}'`);
  }

  private string(line: number, col: number): Token {
    const { src } = this;
    const quote = src[this.i]!;
    const start = this.i;
    this.i++;
    // Text-format strings are bytes: collect bytes, decode UTF-8 once at the end.
    const bytes: number[] = [];
    const enc = new TextEncoder();
    for (;;) {
      if (this.i >= src.length || src[this.i] === '\n') {
        return this.fail(line, col, 'unterminated string');
      }
      const c = src[this.i]!;
      if (c === quote) {
        this.i++;
        break;
      }
      if (c !== '\\') {
        const cp = src.codePointAt(this.i)!;
        const s = String.fromCodePoint(cp);
        for (const b of enc.encode(s)) bytes.push(b);
        this.i += s.length;
        continue;
      }
      const escCol = this.i - this.lineStart + 1;
      const e = src[this.i + 1] ?? '';
      this.i += 2;
      if (e in SIMPLE_ESCAPES) {
        bytes.push(SIMPLE_ESCAPES[e]!);
      } else if (/[0-7]/.test(e)) {
        let digits = e;
        while (digits.length < 3 && /[0-7]/.test(src[this.i] ?? '')) digits += src[this.i++];
        const v = parseInt(digits, 8);
        if (v > 255) this.fail(line, escCol, `invalid escape '\\${digits}' in string`);
        bytes.push(v);
      } else if (e === 'x' || e === 'X') {
        const m = /^[0-9a-fA-F]{1,2}/.exec(src.slice(this.i, this.i + 2));
        if (!m) this.fail(line, escCol, `invalid escape '\\${e}' in string: expected hex digits`);
        this.i += m[0].length;
        bytes.push(parseInt(m[0], 16));
      } else if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        const hex = src.slice(this.i, this.i + n);
        const cp = /^[0-9a-fA-F]+$/.test(hex) && hex.length === n ? parseInt(hex, 16) : -1;
        if (cp < 0 || cp > 0x10ffff) this.fail(line, escCol, `invalid escape '\\${e}${hex}' in string`);
        this.i += n;
        for (const b of enc.encode(String.fromCodePoint(cp))) bytes.push(b);
      } else {
        this.fail(line, escCol, `invalid escape '\\${e}' in string`);
      }
    }
    const str = new TextDecoder().decode(new Uint8Array(bytes));
    return { kind: 'string', text: src.slice(start, this.i), str, line, col };
  }
}

/** Recursive descent over the tokens, one token of lookahead. */
class Parser {
  private tok: Token;
  private readonly lexer: Lexer;

  constructor(text: string, private readonly file: string) {
    this.lexer = new Lexer(text, file);
    this.tok = this.lexer.next();
  }

  private fail(at: Pos, detail: string): never {
    throw ConfigParseError.at(this.file, at.line, at.col, detail);
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  private isPunct(p: string): boolean {
    return this.tok.kind === 'punct' && this.tok.text === p;
  }

  private describe(t: Token): string {
    return t.kind === 'eof' ? 'end of input' : `'${t.text}'`;
  }

  parseDocument(): PbMessage {
    return this.parseFields({ line: 1, col: 1 }, null);
  }

  /** Fields up to `close` (or end of input for the top level). */
  private parseFields(start: Pos, close: '}' | '>' | null, open?: Token): PbMessage {
    const fields: PbField[] = [];
    for (;;) {
      if (close === null ? this.tok.kind === 'eof' : this.isPunct(close)) break;
      if (this.tok.kind === 'eof') {
        this.fail(this.tok, `expected '${close}' to close the message opened at ${open!.line}:${open!.col}`);
      }
      if (this.tok.kind !== 'ident') {
        this.fail(this.tok, `expected a field name, found ${this.describe(this.tok)}`);
      }
      fields.push(this.parseField());
      if (this.isPunct(',') || this.isPunct(';')) this.advance();
    }
    if (close !== null) this.advance();
    return { kind: 'message', fields, line: start.line, col: start.col };
  }

  private parseField(): PbField {
    const nameTok = this.advance();
    const at = { line: nameTok.line, col: nameTok.col };
    let colon = false;
    if (this.isPunct(':')) {
      this.advance();
      colon = true;
    }
    let value: PbValue;
    if (this.isPunct('{') || this.isPunct('<')) {
      value = this.parseMessage();
    } else if (this.isPunct('[')) {
      value = this.parseList(colon);
    } else if (colon) {
      value = this.parseScalar();
    } else {
      this.fail(this.tok, `expected ':' or '{' after field name '${nameTok.text}', found ${this.describe(this.tok)}`);
    }
    return { name: nameTok.text, value, ...at };
  }

  private parseMessage(): PbMessage {
    const open = this.advance();
    return this.parseFields(open, open.text === '{' ? '}' : '>', open);
  }

  /** Without a ':' protobuf only allows a list of messages: `input [ {..} ]`. */
  private parseList(colon: boolean): PbList {
    const open = this.advance();
    const items: (PbScalar | PbMessage)[] = [];
    if (!this.isPunct(']')) {
      for (;;) {
        if (this.isPunct('{') || this.isPunct('<')) {
          items.push(this.parseMessage());
        } else if (!colon) {
          this.fail(this.tok, `expected a message in a list given without ':', found ${this.describe(this.tok)}`);
        } else {
          items.push(this.parseScalar('expected a value in the list'));
        }
        if (this.isPunct(']')) break;
        if (!this.isPunct(',')) {
          if (this.tok.kind === 'eof') {
            this.fail(this.tok, `expected ']' to close the list opened at ${open.line}:${open.col}`);
          }
          this.fail(this.tok, `expected ',' or ']' in a list, found ${this.describe(this.tok)}`);
        }
        this.advance();
      }
    }
    this.advance();
    return { kind: 'list', items, line: open.line, col: open.col };
  }

  private parseScalar(what = "expected a value after ':'"): PbScalar {
    const t = this.tok;
    const at = { line: t.line, col: t.col };
    if (t.kind === 'string') {
      // Adjacent literals concatenate, as in C and protobuf: "ab" 'cd' == "abcd".
      let value = '';
      while (this.tok.kind === 'string') value += this.advance().str!;
      return { kind: 'string', value, ...at };
    }
    if (t.kind === 'int') {
      this.advance();
      return { kind: 'int', value: t.num as bigint, ...at };
    }
    if (t.kind === 'float') {
      this.advance();
      return { kind: 'float', value: t.num as number, ...at };
    }
    if (t.kind === 'ident') {
      this.advance();
      return { kind: 'ident', value: t.text, ...at };
    }
    if (t.kind === 'punct' && t.text === '-') {
      this.advance();
      const n = this.tok;
      if (n.kind === 'int') {
        this.advance();
        return { kind: 'int', value: -(n.num as bigint), ...at };
      }
      if (n.kind === 'float') {
        this.advance();
        return { kind: 'float', value: -(n.num as number), ...at };
      }
      if (n.kind === 'ident' && /^(inf|infinity|nan)$/i.test(n.text)) {
        this.advance();
        return { kind: 'float', value: /^nan$/i.test(n.text) ? NaN : -Infinity, ...at };
      }
      this.fail(n, `expected a number after '-', found ${this.describe(n)}`);
    }
    return this.fail(t, `${what}, found ${this.describe(t)}`);
  }
}

/**
 * Parses protobuf text format into a tree. `file` only names the source in
 * error messages (`file:line:col: detail`). Throws ConfigParseError.
 */
export function parsePbtxt(text: string, file = '<config>'): PbMessage {
  return new Parser(text, file).parseDocument();
}
