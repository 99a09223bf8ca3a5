/**
 * HTTP content codings: request bodies sent with `Content-Encoding: gzip|deflate`
 * and responses compressed when `Accept-Encoding` asks. zlib runs on libuv's thread
 * pool (the async API), so a large body does not stall the event loop.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { InvalidArgument, PayloadTooLarge, Unsupported } from '../../errors/errors.js';

export type Coding = 'gzip' | 'deflate';

/** Responses smaller than this go out uncompressed: zlib costs more than it saves. */
export const COMPRESS_MIN_BYTES = 1024;

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);

/** The coding to answer with: gzip preferred, then deflate; undefined = identity. */
export function negotiateCoding(acceptEncoding: string): Coding | undefined {
  if (acceptEncoding === '') return undefined;
  let deflateOk = false;
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [token, ...attrs] = part.split(';');
    const name = token!.trim();
    if (name !== 'gzip' && name !== 'deflate' && name !== 'x-gzip') continue;
    // `;q=0` means "not acceptable".
    const refused = attrs.some((a) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(a));
    if (refused) continue;
    if (name === 'deflate') deflateOk = true;
    else return 'gzip';
  }
  return deflateOk ? 'deflate' : undefined;
}

export function compressBody(coding: Coding, body: string | Uint8Array): Promise<Buffer> {
  return coding === 'gzip' ? gzip(body) : deflate(body);
}

/**
 * Undo the request's Content-Encoding. The output is capped at `limit` bytes (a small
 * gzip body may expand to gigabytes); going over answers 413 like an oversized body.
 */
export async function decodeContent(contentEncoding: string, body: Buffer, limit: number): Promise<Buffer> {
  const coding = contentEncoding.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return body;
  const opts = { maxOutputLength: limit };
  try {
    if (coding === 'gzip' || coding === 'x-gzip') return await gunzip(body, opts);
    if (coding === 'deflate') {
      // RFC 9110 deflate is zlib-wrapped, but some clients send raw deflate: accept both.
      try {
        return await inflate(body, opts);
      } catch (err) {
        if (isTooLarge(err)) throw err;
        return await inflateRaw(body, opts);
      }
    }
  } catch (err) {
    if (isTooLarge(err)) throw new PayloadTooLarge(limit);
    throw new InvalidArgument(`failed to decompress the ${coding} request body: ${(err as Error).message}`);
  }
  throw new Unsupported(`unsupported Content-Encoding '${contentEncoding}'; use gzip or deflate`);
}

function isTooLarge(err: unknown): boolean {
  return (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError;
}
