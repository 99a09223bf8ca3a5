/**
 * An HTTP/1.1 answer's head, as the net engine writes it: status line, the
 * ResponseHead's headers, Content-Length, Date, and what the connection does next.
 * Everything here comes from the server's own constants (no client text is echoed
 * into a header).
 */
import http from 'node:http';
import type { ResponseHead } from '../exchange.js';

const STATUS_LINES = new Map<number, string>();

function statusLineOf(status: number): string {
  let line = STATUS_LINES.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n`;
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

/** `keepAliveSecs`: the idle timeout, told to clients (Node's agent reads it to avoid a reused socket closing under it). */
export function answerHead(status: number, head: ResponseHead, length: number, next: Next, keepAliveSecs: number): string {
  let s = statusLineOf(status);
  if (head.contentType !== undefined) s += `Content-Type: ${head.contentType}\r\n`;
  if (head.header !== undefined) s += `${head.header[0]}: ${head.header[1]}\r\n`;
  if (head.allow !== undefined) s += `Allow: ${head.allow}\r\n`;
  if (head.coding !== undefined) s += `Content-Encoding: ${head.coding}\r\n`;
  s += `Content-Length: ${length}\r\n${date()}`;
  switch (next) {
    case Next.KeepAlive: return `${s}Keep-Alive: timeout=${keepAliveSecs}\r\n\r\n`;
    case Next.KeepAlive10: return `${s}Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSecs}\r\n\r\n`;
    case Next.Close: return `${s}Connection: close\r\n\r\n`;
  }
}

export const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
