/**
 * guardService wraps a method only when there is something to check or audit: with
 * no gRPC restriction, read-only methods (the inference hot path among them) are
 * served by their own handler, while state-changing ones keep the loopback-only
 * default and the audit line. The calls themselves are checked end to end in
 * test/frontends/access.test.ts; this pins which handlers carry the wrapper.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import type { RestrictedCategory, Restriction } from '../../../src/config/restricted.js';
import { AccessControl } from '../../../src/frontends/access.js';
import { guardService } from '../../../src/frontends/grpc/guard.js';

const METHODS = ['ModelInfer', 'ModelStreamInfer', 'ModelMetadata', 'ServerLive', 'RepositoryModelLoad', 'LogSettings', 'SetTrafficPolicy', 'SystemSharedMemoryRegister'];
const STATE_CHANGING = new Set(['RepositoryModelLoad', 'LogSettings', 'SetTrafficPolicy', 'SystemSharedMemoryRegister']);

function implementation(): grpc.UntypedServiceImplementation {
  return Object.fromEntries(METHODS.map((m) => [m, () => undefined]));
}

function access(grpcRules: Array<[RestrictedCategory, Restriction]>): AccessControl {
  return new AccessControl({ http: new Map(), grpc: new Map(grpcRules), audit: { info() {} } });
}

describe('guardService', () => {
  it('serves read-only methods by their own handler when gRPC restricts nothing', () => {
    const impl = implementation();
    const out = guardService(impl, access([]), 'inference.GRPCInferenceService');
    for (const m of METHODS) {
      if (STATE_CHANGING.has(m)) assert.notEqual(out[m], impl[m], `${m} changes state: it keeps the loopback check and the audit`);
      else assert.equal(out[m], impl[m], `${m} needs no wrapper`);
    }
  });

  it('wraps every method once any gRPC category is restricted', () => {
    const impl = implementation();
    const out = guardService(impl, access([['inference', { key: 'k', value: 'v' }]]), 'inference.GRPCInferenceService');
    for (const m of METHODS) assert.notEqual(out[m], impl[m], `${m} must be checked`);
  });
});
