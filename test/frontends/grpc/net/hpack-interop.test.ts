/**
 * Our HPACK decoder against a real encoder: node:http2's client (nghttp2) sends
 * requests to a bare node:net server that reads the frames and decodes each header
 * block with one HpackDecoder, as the net gRPC engine will. nghttp2 indexes repeated
 * fields and Huffman-codes strings; when the server advertises a 256-octet table it
 * also opens with a table size update and evicts all the time. The decoded fields
 * must be exactly what the client sent, in every request.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { frame as h2frame } from '../../../../src/frontends/grpc/net/frames.js';
import { HpackDecoder } from '../../../../src/frontends/grpc/net/hpack.js';

const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

/** A frame on stream 0 (the connection), through the net engine's own writer. */
const frame = (type: number, flags: number, payload: Buffer): Buffer => h2frame(type, flags, 0, payload);

/** A server that decodes every request header block; resolves each block's fields in order. */
function startServer(tableSize: number, onBlock: (fields: [string, string][]) => void): net.Server {
  return net.createServer((socket) => {
    const decoder = new HpackDecoder(tableSize);
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(0x1, 0); // SETTINGS_HEADER_TABLE_SIZE
    settings.writeUInt32BE(tableSize, 2);
    socket.write(frame(SETTINGS, 0, settings));
    let buf = Buffer.alloc(0);
    let preface = false;
    let block: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!preface) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        preface = true;
      }
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const [type, flags] = [buf[3], buf[4]];
        let payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === SETTINGS && (flags & 0x1) === 0) socket.write(frame(SETTINGS, 0x1, Buffer.alloc(0)));
        if (type === HEADERS) {
          if (flags & PADDED) payload = payload.subarray(1, payload.length - payload[0]);
          if (flags & PRIORITY) payload = payload.subarray(5);
        }
        if (type === HEADERS || type === CONTINUATION) {
          block.push(payload);
          if (flags & END_HEADERS) {
            const b = Buffer.concat(block);
            block = [];
            const fields: [string, string][] = [];
            decoder.decode(b, 0, b.length, (n, v) => fields.push([n, v]));
            onBlock(fields);
          }
        }
      }
    });
    socket.on('error', () => {});
  });
}

for (const tableSize of [4096, 256]) test(`node:http2 (nghttp2) request headers decode exactly, ${tableSize}-octet table`, async () => {
  const blocks: [string, string][][] = [];
  const server = startServer(tableSize, (f) => blocks.push(f));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  // Requests after our SETTINGS, so the client's encoder already works to our table size.
  await once(client, 'remoteSettings');

  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('').trim();
  const sent: Record<string, string>[] = [];
  for (let i = 0; i < 30; i++) {
    const h: Record<string, string> = {
      ':method': 'POST',
      ':path': i % 3 === 0 ? '/inference.GRPCInferenceService/ModelInfer' : `/svc/m${i % 5}`,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'grpc-node-js/1.14.7',
      'x-request': `r-${i}`,
      'x-printable': printable.slice(i % 40),
    };
    if (i % 4 === 0) h['x-large'] = 'L'.repeat(300 + i); // bigger than a 256-octet table
    if (i % 6 === 0) h['grpc-timeout'] = `${i}S`;
    sent.push(h);
    const req = client.request(h, { endStream: true });
    req.on('error', () => {});
  }
  const deadline = Date.now() + 10_000;
  while (blocks.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  client.destroy();
  server.close();

  assert.equal(blocks.length, sent.length);
  blocks.forEach((fields, i) => {
    const got = new Map(fields);
    assert.equal(got.size, fields.length, `request ${i}: a field twice`);
    for (const [n, v] of Object.entries(sent[i])) assert.equal(got.get(n), v, `request ${i}: ${n}`);
    assert.equal(got.get(':scheme'), 'http');
    assert.equal(got.get(':authority'), `127.0.0.1:${port}`);
  });
});
