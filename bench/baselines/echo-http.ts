/**
 * HTTP half of the protocol floor: uWebSockets.js (Osprey's HTTP stack) answering
 * every infer with a prebuilt valid response. The body is read to its end but not
 * decoded, so this is the cost of HTTP framing alone; nothing can serve faster on
 * this stack.
 */
import type * as uWS from 'uws-btc-vision';
import { loadUws } from './uws-native.js';
import type { FixedResponses } from './fixed-responses.js';

export function startEchoHttp(models: Map<string, FixedResponses>, port: number): Promise<number> {
  const load = loadUws();
  if (!('uws' in load)) throw new Error(`the HTTP echo floor needs a native uWebSockets.js: ${load.reasons.join('; ')}`);
  const native = load.uws;
  const app = native.App();
  const json = (res: uWS.HttpResponse, status: string, body: string | Buffer): void => {
    res.cork(() => res.writeStatus(status).writeHeader('Content-Type', 'application/json').end(body));
  };
  const notFound = (res: uWS.HttpResponse, m: string): void =>
    json(res, '400 Bad Request', JSON.stringify({ error: `Request for unknown model: '${m}' is not found` }));

  app.get('/v2/health/ready', (res) => void res.end());
  app.get('/v2/health/live', (res) => void res.end());
  app.get('/v2/models/:m', (res, req) => {
    const r = models.get(req.getParameter(0) ?? '');
    if (r) json(res, '200 OK', r.metadataJson);
    else notFound(res, req.getParameter(0) ?? '');
  });
  app.get('/v2/models/:m/ready', (res, req) => {
    if (models.has(req.getParameter(0) ?? '')) res.cork(() => res.end());
    else notFound(res, req.getParameter(0) ?? '');
  });
  app.get('/v2/models/:m/config', (res, req) => {
    const r = models.get(req.getParameter(0) ?? '');
    if (r) json(res, '200 OK', r.configJson);
    else notFound(res, req.getParameter(0) ?? '');
  });
  const infer = (res: uWS.HttpResponse, req: uWS.HttpRequest): void => {
    const name = req.getParameter(0) ?? '';
    const binary = req.getHeader('inference-header-content-length') !== '';
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    res.onData((_chunk, isLast) => {
      if (!isLast || aborted) return;
      const r = models.get(name);
      if (!r) return notFound(res, name);
      if (!binary) return json(res, '200 OK', r.json);
      res.cork(() => res.writeStatus('200 OK')
        .writeHeader('Content-Type', 'application/octet-stream')
        .writeHeader('Inference-Header-Content-Length', String(r.binaryHeaderLength))
        .end(r.binary));
    });
  };
  app.post('/v2/models/:m/infer', infer);
  app.post('/v2/models/:m/versions/:v/infer', infer);
  app.any('/*', (res) => json(res, '404 Not Found', '{"error":"Not Found"}'));
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', port, (sock) => {
      if (!sock) reject(new Error(`echo http: cannot listen on ${port}`));
      else resolve(native.us_socket_local_port(sock));
    });
  });
}
