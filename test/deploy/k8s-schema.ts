/**
 * Kubernetes API schema validation, offline, from npm packages: `kubernetes-models`
 * (validators generated from the Kubernetes OpenAPI spec), `@kubernetes-models/keda`
 * (KEDA's CRDs) and `@kubernetes-models/prometheus-operator` (ServiceMonitor).
 *
 * Their validators check types, enums, formats and required fields but, like the API
 * server without strict field validation, ignore unknown fields, where a typo
 * (`readinesProbe`) would pass silently. So each object is validated through a Proxy
 * that records every property the validator reads: a generated validator reads each
 * property its schema declares, so a property it never read is not in the schema, and
 * is reported as unknown.
 */

import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const NODE_MODULES = fileURLToPath(new URL('../../../node_modules/', import.meta.url));

type ValidateFn = ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string; keyword: string; params: unknown }> | null };

/** apiVersion/kind -> the package module exporting its validator. */
const SCHEMAS: Record<string, string> = {
  'v1/ServiceAccount': 'kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount',
  'v1/Service': 'kubernetes-models/_schemas/IoK8sApiCoreV1Service',
  'v1/ConfigMap': 'kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap',
  'v1/Secret': 'kubernetes-models/_schemas/IoK8sApiCoreV1Secret',
  'v1/Container': 'kubernetes-models/_schemas/IoK8sApiCoreV1Container',
  'v1/Volume': 'kubernetes-models/_schemas/IoK8sApiCoreV1Volume',
  'v1/Toleration': 'kubernetes-models/_schemas/IoK8sApiCoreV1Toleration',
  'v1/ObjectMeta': '@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1ObjectMeta',
  'apps/v1/Deployment': 'kubernetes-models/_schemas/IoK8sApiAppsV1Deployment',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget',
  'autoscaling/v2/HorizontalPodAutoscaler': 'kubernetes-models/_schemas/IoK8sApiAutoscalingV2HorizontalPodAutoscaler',
  'keda.sh/v1alpha1/ScaledObject': '@kubernetes-models/keda/_schemas/KedaShV1alpha1ScaledObject',
  'monitoring.coreos.com/v1/ServiceMonitor': '@kubernetes-models/prometheus-operator/_schemas/MonitoringCoreosComV1ServiceMonitor',
};

export function hasSchema(apiVersion: string, kind: string): boolean {
  return `${apiVersion}/${kind}` in SCHEMAS;
}

async function validatorFor(type: string): Promise<ValidateFn> {
  const mod = SCHEMAS[type];
  if (mod === undefined) throw new Error(`no schema for ${type}`);
  // By file: the CRD packages do not list their generated schemas in "exports".
  return ((await import(pathToFileURL(join(NODE_MODULES, `${mod}.mjs`)).href)) as { validate: ValidateFn }).validate;
}

/** Wraps `value` so that reads of its own properties (deeply) are recorded as JSON pointers. */
function tracked(value: unknown, path: string, read: Set<string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value as object, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !Object.hasOwn(target, key)) return v;
      const p = `${path}/${key}`;
      read.add(p);
      return tracked(v, p, read);
    },
  });
}

/** Every property path of `value` whose parent was read but which itself never was. */
function unread(value: unknown, path: string, read: Set<string>, out: string[]): void {
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    const p = `${path}/${k}`;
    if (!read.has(p)) out.push(p);
    else unread(v, p, read, out);
  }
}

/** Problems with `obj` as a `type` ('apps/v1/Deployment', 'v1/Container'...); empty when valid. */
export async function schemaProblems(obj: unknown, type?: string): Promise<string[]> {
  const t = type ?? `${(obj as { apiVersion: string }).apiVersion}/${(obj as { kind: string }).kind}`;
  const validate = await validatorFor(t);
  const read = new Set<string>();
  const ok = validate(tracked(obj, '', read));
  // Generated without messages: '<path> <keyword> <params>', e.g. '/x type {"type":"integer"}'.
  const problems = ok ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
  const unknown: string[] = [];
  unread(obj, '', read, unknown);
  // apiVersion/kind are read by the model classes, not by every generated validator.
  return [...problems, ...unknown.filter((p) => p !== '/apiVersion' && p !== '/kind').map((p) => `${p} is not a field of ${t}`)];
}
