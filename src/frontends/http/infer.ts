/**
 * POST /v2/models/{m}[/versions/{v}]/infer: body -> InferenceRequest -> DataPlane.infer
 * -> response body. The body buffer backs the binary input tensors (views, no copy)
 * until the data plane is done with them.
 */
import { decodeJsonInferRequest, decodeRawInferRequest, parseHeaderLength } from '../../codec/json-request.js';
import { encodeInferResponse } from '../../codec/http-response.js';
import { holdDecoded, readBody } from './body.js';
import { decodeContent } from './compress.js';
import type { HttpContext, RequestHead } from './context.js';
import { type Exchange, JSON_TYPE, OCTET_TYPE, reply, replyError } from './exchange.js';

const HEADER_LENGTH = 'Inference-Header-Content-Length';

export function handleInfer(ctx: HttpContext, ex: Exchange, model: string, version: string, head: RequestHead): void {
  readBody(ex, head.contentLength, ctx, (body) => {
    runInfer(ctx, ex, model, version, head, body).catch((err: unknown) => replyError(ex, err, ctx.logger));
  });
}

async function runInfer(ctx: HttpContext, ex: Exchange, model: string, version: string, head: RequestHead, raw: Buffer): Promise<void> {
  const body = head.contentEncoding === '' ? raw : await decodeContent(head.contentEncoding, raw, ctx.maxBodyBytes);
  if (ex.finished) return;
  if (body !== raw) holdDecoded(ex, ctx.bodyBudget, body);
  const headerLength = parseHeaderLength(head.inferHeaderLength, body.byteLength);
  const decoded = headerLength === 0
    ? decodeRawInferRequest(body, model, version)
    : decodeJsonInferRequest(body, headerLength, model, version);
  // HTTP carries no deadline (Triton has no such header); `timeout` rides in parameters.
  decoded.request.signal = ex.signal();
  if (head.routing !== undefined) decoded.request.headers = { [head.routing[0]]: head.routing[1] };
  const response = await ctx.dp.infer(decoded.request);
  if (ex.finished) return;
  const out = encodeInferResponse(response, decoded.request.outputs, decoded.binaryOutputs);
  if (out.jsonLength === undefined) reply(ex, 200, out.body, { contentType: JSON_TYPE });
  else reply(ex, 200, out.body, { contentType: OCTET_TYPE, header: [HEADER_LENGTH, String(out.jsonLength)] });
}
