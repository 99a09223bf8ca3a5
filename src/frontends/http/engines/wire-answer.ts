/**
 * An HTTP/1.1 answer's head, as the net engine writes it: status line, the
 * ResponseHead's headers, Content-Length, Date, and what the connection does next.
 * Everything here comes from the server's own constants (no client text is echoed
 * into a header).
 */
import { type ResponseHead, statusLine } from '../exchange.js';

/** `HTTP/1.1 200 OK\r\n`, from exchange.ts's table (the one owner of reason phrases), made once per status. */
const STATUS_LINES = new Map<number, string>();

function statusLineOf(status: number): string {
  let line = STATUS_LINES.get(status);
  if (line === undefined) {
    const known = statusLine(status);
    // A status-line needs the space after the code even without a reason phrase (RFC 9112 4).
    line = `HTTP/1.1 ${known.includes(' ') ? known : `${known} `}\r\n`;
    STATUS_LINES.set(status, line);
  }
  return line;
}

/**
 * RFC 9110 6.6.1: an origin server with a clock sends Date. Formatted once per
 * second, not per answer.
 */
let dateLine = '';
let dateUntil = 0;

function date(): string {
  const now = Date.now();
  if (now >= dateUntil) {
    dateLine = `Date: ${new Date(now).toUTCString()}\r\n`;
    dateUntil = now - (now % 1000) + 1000;
  }
  return dateLine;
}

/** How the connection goes on after this answer. */
export const enum Next {
  /** HTTP/1.1 keep-alive (the default). */
  KeepAlive,
  /** An HTTP/1.0 client asked for keep-alive: it must be told. */
  KeepAlive10,
  /** The connection closes after this answer. */
  Close,
}

/**
 * The end of an answer's head for each Next, made once per server: `keepAliveSecs` is
 * the idle timeout, told to clients (Node's agent reads it to avoid reusing a socket
 * about to close).
 */
export function answerTails(keepAliveSecs: number): readonly string[] {
  const tails: string[] = [];
  tails[Next.KeepAlive] = `Keep-Alive: timeout=${keepAliveSecs}\r\n\r\n`;
  tails[Next.KeepAlive10] = `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSecs}\r\n\r\n`;
  tails[Next.Close] = 'Connection: close\r\n\r\n';
  return tails;
}

/** `tail`: from answerTails. */
export function answerHead(status: number, head: ResponseHead, length: number, tail: string): string {
  let s = statusLineOf(status);
  if (head.contentType !== undefined) s += `Content-Type: ${head.contentType}\r\n`;
  if (head.header !== undefined) s += `${head.header[0]}: ${head.header[1]}\r\n`;
  if (head.allow !== undefined) s += `Allow: ${head.allow}\r\n`;
  if (head.coding !== undefined) s += `Content-Encoding: ${head.coding}\r\n`;
  return `${s}Content-Length: ${length}\r\n${date()}${tail}`;
}

export const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
