/**
 * A minimal kustomize renderer for the subset deploy/kubernetes/ uses (kustomize is not
 * on npm or in Debian; CI has neither kubectl nor kustomize):
 *
 * - `resources`: YAML files (multi-document) and directories holding a kustomization.yaml;
 * - `labels` with `pairs` only (metadata labels; no selectors, no templates);
 * - `patches` with `path` only: a strategic merge patch applied to the resource of the
 *   same kind and name. Maps merge; lists merge by the key Kubernetes declares for the
 *   fields we patch (containers and env by `name`, volumeMounts by `mountPath`...);
 *   other lists are replaced, as strategic merge does for lists without a merge key;
 * - `images`: `name` -> `newName` / `newTag` on containers and initContainers.
 *
 * Anything else in a kustomization is an error, so a manifest change that needs more
 * fails here instead of rendering wrongly. When `kubectl` is installed the test also
 * compares this output with `kubectl kustomize`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type K8sObject = Record<string, any> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'labels', 'patches', 'images']);

/** Fields whose list items merge by a key under strategic merge patch (the ones we patch). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name', initContainers: 'name', env: 'name', volumes: 'name',
  volumeMounts: 'mountPath', ports: 'containerPort', imagePullSecrets: 'name',
};

export function readYamlDocuments(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: K8sObject[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    const v = d.toJSON() as K8sObject | null;
    if (v !== null) out.push(v);
  }
  return out;
}

export function render(dir: string): K8sObject[] {
  const kfile = join(dir, 'kustomization.yaml');
  if (!existsSync(kfile)) throw new Error(`${dir}: no kustomization.yaml`);
  const [k] = readYamlDocuments(kfile) as unknown as Array<Record<string, any>>;
  for (const key of Object.keys(k!)) if (!SUPPORTED.has(key)) throw new Error(`${kfile}: '${key}' is not supported by this renderer`);
  let objects: K8sObject[] = [];
  for (const r of (k!.resources ?? []) as string[]) {
    const p = resolve(dir, r);
    objects.push(...(statSync(p).isDirectory() ? render(p) : readYamlDocuments(p)));
  }
  for (const patch of (k!.patches ?? []) as Array<Record<string, unknown>>) {
    if (Object.keys(patch).join() !== 'path') throw new Error(`${kfile}: only patches with 'path' are supported`);
    for (const p of readYamlDocuments(resolve(dir, patch.path as string))) {
      const i = objects.findIndex((o) => o.kind === p.kind && o.metadata.name === p.metadata.name);
      if (i < 0) throw new Error(`${kfile}: patch ${patch.path as string} matches no ${p.kind} '${p.metadata.name}'`);
      objects[i] = mergePatch(objects[i], p, '') as K8sObject;
    }
  }
  for (const img of (k!.images ?? []) as Array<{ name: string; newName?: string; newTag?: string }>) {
    objects = objects.map((o) => retag(o, img));
  }
  for (const l of (k!.labels ?? []) as Array<Record<string, unknown>>) {
    if (Object.keys(l).join() !== 'pairs') throw new Error(`${kfile}: only labels with 'pairs' are supported`);
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...(l.pairs as Record<string, string>) };
  }
  return objects;
}

function mergePatch(base: unknown, patch: unknown, field: string): unknown {
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (key === undefined || !Array.isArray(base)) return structuredClone(patch);
    const out = structuredClone(base) as Array<Record<string, unknown>>;
    for (const item of patch as Array<Record<string, unknown>>) {
      const i = out.findIndex((b) => b[key] === item[key]);
      if (i < 0) out.push(structuredClone(item));
      else out[i] = mergePatch(out[i], item, '') as Record<string, unknown>;
    }
    return out;
  }
  if (patch !== null && typeof patch === 'object') {
    if (base === null || typeof base !== 'object' || Array.isArray(base)) return structuredClone(patch);
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = mergePatch(out[k], v, k);
    }
    return out;
  }
  return patch;
}

function retag(o: K8sObject, img: { name: string; newName?: string; newTag?: string }): K8sObject {
  const visit = (v: unknown, field: string): unknown => {
    if (Array.isArray(v)) {
      return v.map((c) => {
        if ((field !== 'containers' && field !== 'initContainers') || typeof c?.image !== 'string') return visit(c, '');
        const m = /^([^:@]+)(.*)$/.exec(c.image)!;
        if (m[1] !== img.name) return c;
        const tag = img.newTag !== undefined ? `:${img.newTag}` : m[2];
        return { ...c, image: `${img.newName ?? m[1]}${tag}` };
      });
    }
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, visit(x, k)]));
    }
    return v;
  };
  return visit(o, '') as K8sObject;
}
