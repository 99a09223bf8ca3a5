/**
 * Tiny KServe v2 servers for the load generator's tests: every infer is answered
 * after a fixed delay, so the latency the generator reports can be checked against
 * a known truth. Model `delay` (FP32 [-1, 4] -> [-1, 1]) succeeds; model `busy`
 * answers HTTP 503 / gRPC UNAVAILABLE, for error tallies. Both count what they serve.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { decodeModelMetadata, encodeInferResponse, encodeModelConfigResponse, encodeModelMetadataResponse, grpcFrame } from '../loadgen/kserve-pb.js';
import { pbFields, pbString } from '../loadgen/protobuf.js';

export const META = {
  name: 'delay', versions: ['1'], platform: 'test',
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
};

export interface DelayServer {
  hostPort: string;
  /** Infer requests answered, by model. */
  served: Record<string, number>;
  close(): Promise<void>;
}

const bump = (o: Record<string, number>, k: string): void => void (o[k] = (o[k] ?? 0) + 1);

export function httpDelayServer(delayMs: number): Promise<DelayServer> {
  const served: Record<string, number> = {};
  const srv = http.createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url === '/v2/models/delay') return void res.end(JSON.stringify(META));
      if (req.method === 'GET' && url === '/v2/models/delay/config') return void res.end('{"max_batch_size":8}');
      const m = /^\/v2\/models\/(\w+)\/infer$/.exec(url);
      if (!m) return void res.writeHead(404).end('{"error":"Not Found"}');
      setTimeout(() => {
        bump(served, m[1]);
        if (m[1] !== 'delay') return void res.writeHead(503).end('{"error":"Exceeds maximum queue size"}');
        res.setHeader('Content-Type', 'application/json');
        res.end('{"model_name":"delay","model_version":"1","outputs":[{"name":"y","datatype":"FP32","shape":[1,1],"data":[0]}]}');
      }, delayMs);
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    hostPort: `127.0.0.1:${(srv.address() as AddressInfo).port}`,
    served,
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
  })));
}

/** Model name from a request message (field 1). */
function nameOf(msg: Buffer): string {
  for (const f of pbFields(msg.subarray(5))) if (f.no === 1) return pbString(f);
  return '';
}

export function grpcDelayServer(delayMs: number): Promise<DelayServer> {
  const served: Record<string, number> = {};
  const infer = grpcFrame(encodeInferResponse('delay', '1', [{ name: 'y', datatype: 'FP32', shape: [1, 1], raw: new Uint8Array(4) }]));
  const meta = grpcFrame(encodeModelMetadataResponse(META));
  const config = grpcFrame(encodeModelConfigResponse('delay', 8));
  decodeModelMetadata(meta.subarray(5)); // the helper's own encoding must read back
  const srv = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  srv.on('session', (s) => { sessions.add(s); s.on('close', () => sessions.delete(s)); });
  srv.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const method = String(headers[':path']).split('/').pop();
      const name = nameOf(Buffer.concat(chunks));
      const reply = (body: Buffer | null, status: number, message = ''): void => {
        if (stream.destroyed) return;
        if (body === null) {
          // Trailers-only response, as gRPC servers send errors.
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(status), 'grpc-message': message }, { endStream: true });
          return;
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(status) }));
        stream.end(body);
      };
      if (method === 'ModelMetadata') return reply(name === 'delay' ? meta : null, name === 'delay' ? 0 : 5, 'not found');
      if (method === 'ModelConfig') return reply(config, 0);
      if (method !== 'ModelInfer') return reply(null, 12, 'unimplemented');
      setTimeout(() => {
        bump(served, name);
        if (name === 'delay') reply(infer, 0);
        else reply(null, 14, 'Exceeds maximum queue size');
      }, delayMs);
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    hostPort: `127.0.0.1:${(srv.address() as AddressInfo).port}`,
    served,
    close: () => new Promise((r) => { for (const s of sessions) s.destroy(); srv.close(() => r()); }),
  })));
}
