/**
 * Triton's `model_warmup`: synthetic requests a version must answer before it is
 * marked READY. Runs through the version's own batcher and workers, like traffic.
 */
import { randomFillSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { joinBytes } from '../codec/raw.js';
import { configDataTypeToWire as wireDataType } from '../config/datatype.js';
import { prepare } from '../request/prepare.js';
import { InvalidArgument } from '../errors/errors.js';
import { resolveInside } from '../repository/contained.js';
import { ELEMENT_SIZE, type Tensor, elementCount } from '../types/tensor.js';
import type { ModelVersion } from './model-version.js';

export async function warmUp(v: ModelVersion, modelDir: string): Promise<void> {
  for (const w of v.config.model_warmup) {
    const batch = Math.max(1, w.batch_size);
    const inputs: Tensor[] = [];
    for (const [name, spec] of Object.entries(w.inputs)) {
      const datatype = wireDataType(spec.data_type);
      const shape = v.config.max_batch_size > 0 ? [batch, ...spec.dims] : spec.dims.slice();
      const n = elementCount(shape);
      let data: Uint8Array;
      if (spec.input_data_file) {
        const path = await resolveInside(modelDir, spec.input_data_file, `warmup '${w.name}' input_data_file for input '${name}'`, 'warmup');
        data = new Uint8Array(await readFile(path));
      } else if (datatype === 'BYTES') {
        data = joinBytes(Array.from({ length: n }, () => new Uint8Array(spec.random_data ? [0x61] : [])));
      } else {
        data = new Uint8Array(n * ELEMENT_SIZE[datatype]);
        // Random bytes would make NaNs for floats; small integers are valid for every type.
        if (spec.random_data) { randomFillSync(data); for (let i = 0; i < data.length; i++) data[i]! &= 0x1; }
      }
      inputs.push({ name, datatype, shape, data });
    }
    const prepared = prepare(v.config, { modelName: v.name, modelVersion: v.versionString, id: '', parameters: {}, inputs, deadline: Infinity });
    for (let i = 0; i < Math.max(1, w.count); i++) {
      try {
        await v.submit(prepared, 0, 0, Infinity, undefined);
      } catch (err) {
        throw new InvalidArgument(`warmup '${w.name}' failed: ${(err as Error).message}`);
      }
    }
  }
}
