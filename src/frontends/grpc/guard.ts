/**
 * Restricted protocols and the loopback-only default for admin calls, on gRPC: each
 * method of a service implementation is wrapped once, at startup, with its
 * category's check (src/frontends/access.ts). Refusals are ordinary statuses; an
 * accepted state-changing call writes its audit line when it is answered.
 */
import * as grpc from '@grpc/grpc-js';
import type { RestrictedCategory } from '../../config/restricted.js';
import { GRPC_STATUS } from '../../errors/status.js';
import { OspreyError } from '../../errors/errors.js';
import type { AccessControl } from '../access.js';

/** Category of every method the server serves (Triton's, plus `traffic`). */
const CATEGORY: Readonly<Record<string, RestrictedCategory>> = {
  ServerLive: 'health', ServerReady: 'health', ModelReady: 'health', Check: 'health',
  ServerMetadata: 'metadata', ModelMetadata: 'metadata',
  ModelInfer: 'inference', ModelStreamInfer: 'inference',
  ModelConfig: 'model-config',
  ModelStatistics: 'statistics',
  RepositoryIndex: 'model-repository', RepositoryModelLoad: 'model-repository', RepositoryModelUnload: 'model-repository',
  SystemSharedMemoryStatus: 'shared-memory', SystemSharedMemoryRegister: 'shared-memory', SystemSharedMemoryUnregister: 'shared-memory',
  CudaSharedMemoryStatus: 'shared-memory', CudaSharedMemoryRegister: 'shared-memory', CudaSharedMemoryUnregister: 'shared-memory',
  TraceSetting: 'trace',
  LogSettings: 'logging',
  GetTrafficPolicy: 'traffic', SetTrafficPolicy: 'traffic',
};

/** Methods that may change state (LogSettings only when it carries settings: see changesState). */
const MAY_CHANGE_STATE: ReadonlySet<string> = new Set([
  'RepositoryModelLoad', 'RepositoryModelUnload',
  'SystemSharedMemoryRegister', 'SystemSharedMemoryUnregister',
  'CudaSharedMemoryRegister', 'CudaSharedMemoryUnregister',
  'SetTrafficPolicy', 'LogSettings',
]);

/** Methods that change state; LogSettings only when it carries settings (an empty one reads). */
function changesState(method: string, request: unknown): boolean {
  if (!MAY_CHANGE_STATE.has(method)) return false;
  if (method !== 'LogSettings') return true;
  const settings = (request as { settings?: Record<string, unknown> } | undefined)?.settings;
  return settings !== undefined && Object.keys(settings).length > 0;
}

/** The address part of grpc-js's `getPeer()` (`<address>:<port>`; IPv6 unbracketed). */
export function peerAddress(peer: string): string {
  const colon = peer.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(peer.slice(colon + 1)) ? peer.slice(0, colon) : peer;
}

function metadataReader(md: grpc.Metadata): (name: string) => string {
  return (name) => {
    const v = md.get(name)[0];
    return typeof v === 'string' ? v : v === undefined ? '' : v.toString('utf8');
  };
}

function refusal(err: unknown): Partial<grpc.StatusObject> {
  const e = err as OspreyError;
  return { code: GRPC_STATUS[e.code], details: e.message };
}

type Handler = (call: any, callback?: any) => void;

/**
 * Wrap `impl` (a service implementation: method name -> handler). Unary handlers
 * get the check before they run; streaming ones are checked before the first read.
 * Methods of unknown category are left as they are.
 */
export function guardService(impl: grpc.UntypedServiceImplementation, access: AccessControl, service: string): grpc.UntypedServiceImplementation {
  const out: Record<string, Handler> = {};
  for (const [method, handler] of Object.entries(impl) as Array<[string, Handler]>) {
    const category = CATEGORY[method];
    // Nothing to check or audit (no gRPC restriction; restrictions are fixed at startup,
    // and the method never changes state): the handler itself, no wrapper on the call path.
    if (category === undefined || (!access.restricts('grpc') && !MAY_CHANGE_STATE.has(method))) { out[method] = handler; continue; }
    if (method === 'ModelStreamInfer') {
      out[method] = (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        if (access.restricts('grpc')) {
          try {
            access.admit('grpc', category, false, metadataReader(call.metadata), () => peerAddress(call.getPeer()));
          } catch (err) {
            if (!(err instanceof OspreyError)) throw err;
            call.emit('error', refusal(err));
            return;
          }
        }
        handler(call);
      };
      continue;
    }
    out[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const changes = changesState(method, call.request);
      if (!changes && !access.restricts('grpc')) { handler(call, callback); return; }
      let admission;
      let peer: string | undefined;
      const peerOf = (): string => (peer ??= peerAddress(call.getPeer()));
      try {
        admission = access.admit('grpc', category, changes, metadataReader(call.metadata), peerOf);
      } catch (err) {
        if (!(err instanceof OspreyError)) throw err;
        callback(refusal(err));
        return;
      }
      if (!admission.audited) { handler(call, callback); return; }
      const who = peerOf();
      const keyName = admission.keyName;
      handler(call, (err: Partial<grpc.StatusObject> | null, value?: unknown) => {
        const code = err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK;
        access.audit('grpc', who, keyName, `${service}/${method}`, grpc.status[code] ?? String(code));
        callback(err, value);
      });
    };
  }
  return out;
}
