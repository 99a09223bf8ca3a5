/**
 * Early answers to a gRPC inference request, before it is decoded into tensors (the
 * protobuf walk that found its model name only made views): RESOURCE_EXHAUSTED when
 * its client is over its rate limit (metadata `retry-after` says when to come back),
 * UNAVAILABLE "Exceeds maximum queue size" when its model's queue is full.
 */
import * as grpc from '@grpc/grpc-js';
import type { ModelInferRequestMsg } from '../../codec/grpc-messages.js';
import { type OspreyError, RateLimited } from '../../errors/errors.js';
import { GRPC_STATUS } from '../../errors/status.js';
import type { Admission } from '../admission.js';
import { peerAddress } from './guard.js';

interface CallLike {
  readonly metadata: grpc.Metadata;
  getPeer(): string;
}

function metadataValue(md: grpc.Metadata, key: string): string {
  const v = md.get(key)[0];
  return v === undefined ? '' : typeof v === 'string' ? v : v.toString('latin1');
}

/** The refusal for this message, if any (ModelStreamInfer answers it in-band). */
export function earlyRefusal(a: Admission, msg: ModelInferRequestMsg, call: CallLike): OspreyError | undefined {
  const limiter = a.limiter;
  if (limiter !== undefined) {
    const limited = a.limit('grpc', limiter.keyHeader === '' ? '' : metadataValue(call.metadata, limiter.keyHeader), peerAddress(call.getPeer()));
    if (limited !== undefined) return limited;
  }
  return a.refusal(msg.model_name, msg.model_version);
}

/** A refusal as ModelInfer's status. */
export function refusalStatus(err: OspreyError): Partial<grpc.StatusObject> {
  if (!(err instanceof RateLimited)) return { code: GRPC_STATUS[err.code], details: err.message };
  const metadata = new grpc.Metadata();
  metadata.set('retry-after', String(err.retryAfterSecs));
  return { code: GRPC_STATUS[err.code], details: err.message, metadata };
}
