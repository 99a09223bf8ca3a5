/**
 * POST /v2/models/{m}[/versions/{v}]/infer: body -> InferenceRequest -> DataPlane.infer
 * -> response body. The body buffer backs the binary input tensors (views, no copy)
 * until the data plane is done with them.
 *
 * The hot path is plain callbacks, not an async function: decoding and submitting run
 * synchronously in the body callback and the answer is written from the data plane's
 * settled promise, so a request costs one promise reaction and no coroutine of its own.
 */
import { type DecodedInfer, decodeJsonInferRequest, decodeRawInferRequest, parseHeaderLength } from '../../codec/json-request.js';
import { encodeInferResponse } from '../../codec/http-response.js';
import type { InferenceResponse } from '../../types/inference.js';
import { readBody } from './body.js';
import { decodeContent } from './compress.js';
import type { HttpContext, RequestHead } from './context.js';
import { type Exchange, JSON_TYPE, OCTET_TYPE, reply, replyError } from './exchange.js';

const HEADER_LENGTH = 'Inference-Header-Content-Length';

export function handleInfer(ctx: HttpContext, ex: Exchange, model: string, version: string, head: RequestHead): void {
  readBody(ex, head.contentLength, ctx.maxBodyBytes, (raw) => {
    if (head.contentEncoding === '') {
      startInfer(ctx, ex, model, version, head, raw);
      return;
    }
    decodeContent(head.contentEncoding, raw, ctx.maxBodyBytes).then(
      (body) => { if (!ex.finished) startInfer(ctx, ex, model, version, head, body); },
      (err: unknown) => replyError(ex, err, ctx.logger),
    );
  });
}

/** Decode the body and hand the request to the data plane; the answer is written when it settles. */
function startInfer(ctx: HttpContext, ex: Exchange, model: string, version: string, head: RequestHead, body: Buffer): void {
  let decoded: DecodedInfer;
  let pending: Promise<InferenceResponse>;
  try {
    const headerLength = parseHeaderLength(head.inferHeaderLength, body.byteLength);
    decoded = headerLength === 0
      ? decodeRawInferRequest(body, model, version)
      : decodeJsonInferRequest(body, headerLength, model, version);
    // HTTP carries no deadline (Triton has no such header); `timeout` rides in parameters.
    decoded.request.signal = ex.signal();
    if (head.routing !== undefined) decoded.request.headers = { [head.routing[0]]: head.routing[1] };
    pending = ctx.dp.infer(decoded.request);
  } catch (err) {
    replyError(ex, err, ctx.logger);
    return;
  }
  pending.then(
    (response) => answer(ctx, ex, decoded, response),
    (err: unknown) => replyError(ex, err, ctx.logger),
  );
}

function answer(ctx: HttpContext, ex: Exchange, decoded: DecodedInfer, response: InferenceResponse): void {
  if (ex.finished) return;
  try {
    const out = encodeInferResponse(response, decoded.request.outputs, decoded.binaryOutputs);
    if (out.jsonLength === undefined) reply(ex, 200, out.body, { contentType: JSON_TYPE });
    else reply(ex, 200, out.body, { contentType: OCTET_TYPE, header: [HEADER_LENGTH, String(out.jsonLength)] });
  } catch (err) {
    replyError(ex, err, ctx.logger);
  }
}
