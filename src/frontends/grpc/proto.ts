/**
 * Loads the .proto files at runtime. They live in `proto/` at the repository root
 * and are not copied into dist/, so the directory is found by walking up from this
 * module (dist/src/frontends/grpc/ when compiled, src/frontends/grpc/ when run
 * from source).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import { GRPC_LOADER_OPTIONS } from '../../codec/grpc-messages.js';

function findProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'grpc_service.proto'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`proto/grpc_service.proto not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of the repository's proto/ directory. */
export const PROTO_DIR: string = findProtoDir();

export const PROTO_FILES = ['grpc_service.proto', 'health.proto', 'osprey_admin.proto'] as const;

/** Fully-qualified names in the package definition. */
export const INFERENCE_SERVICE = 'inference.GRPCInferenceService';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';
export const TRAFFIC_ADMIN_SERVICE = 'osprey.admin.TrafficAdmin';

let cached: protoLoader.PackageDefinition | undefined;

/** The package definition of every proto file, loaded once per process. */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync([...PROTO_FILES], { ...GRPC_LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  return cached;
}
