/**
 * deploy/kubernetes/ and deploy/kserve/, checked without a cluster:
 *
 * - every overlay renders (test/deploy/kustomize.ts; compared with `kubectl kustomize`
 *   where kubectl is installed) and every object validates against the Kubernetes API
 *   schemas (and KEDA's and the Prometheus Operator's CRDs) from npm, unknown fields
 *   included (test/deploy/k8s-schema.ts);
 * - the rendered objects agree with each other (selectors, target ports, scale targets,
 *   the grace period covering shutdown grace + exit timeout, the restricted security
 *   context, the admin key from a Secret, the GPU request);
 * - and with the server: every container argument parses with the real CLI (KServe's
 *   `--model-store=/mnt/models --grpc-port=9000 --http-port=8080` included), a server
 *   started with those options answers every probe with 200 / SERVING on the port the
 *   probe names, and every metric an HPA, adapter rule or KEDA query names is on its
 *   /metrics.
 *
 * KServe's CRDs are in no npm or Debian package: their containers are validated as
 * core/v1 Containers and the fields around them against the list in KSERVE_FIELDS.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { type ServerOptions, parseArgs, usageText } from '../../src/config/cli.js';
import { createGrpcClient } from '../helpers/grpc-client.js';
import { httpRequest, infer } from '../helpers/http-client.js';
import { REPO_ROOT } from '../helpers/process.js';
import { BUNDLED_REPO, type TestServer, startTestServer } from '../helpers/server.js';
import { schemaProblems } from './k8s-schema.js';
import { type K8sObject, readYamlDocuments, render } from './kustomize.js';

const K8S = join(REPO_ROOT, 'deploy/kubernetes');
const OVERLAYS = ['cpu', 'gpu', 'cpu-keda'] as const;
const rendered = new Map<string, K8sObject[]>(OVERLAYS.map((o) => [o, render(join(K8S, 'overlays', o))]));
const adapter = render(join(K8S, 'autoscaling/prometheus-adapter'));
const kserve = [
  ...readYamlDocuments(join(REPO_ROOT, 'deploy/kserve/cluster-serving-runtime.yaml')),
  ...readYamlDocuments(join(REPO_ROOT, 'deploy/kserve/inference-service.yaml')),
];
const ADMIN_KEY = 'test-admin-key-0123456789';
/** Flags the security issue (#16) adds; checked against the CLI once it has them. */
const PENDING_FLAGS = ['--http-restricted-api', '--grpc-restricted-protocol'];
const cliHas = (flag: string): boolean => usageText().includes(flag);

const one = (objs: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` '${name}'` : ''}`);
  return found[0]!;
};

/** Kubernetes' $(VAR) expansion of container args from the container's env. */
function expandArgs(container: Record<string, any>, secretValues: Record<string, string>): string[] {
  const env = new Map<string, string>();
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env.set(e.name, String(e.value));
    else if (e.valueFrom?.secretKeyRef) env.set(e.name, secretValues[`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`]!);
  }
  return (container.args as string[]).map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env.get(v) ?? m));
}

/** Parse container args with the real CLI; flags the CLI does not have yet are set aside. */
function parseContainerArgs(args: string[]): { opts: Readonly<ServerOptions>; pending: string[] } {
  const pending = args.filter((a) => PENDING_FLAGS.some((f) => a.startsWith(`${f}=`)) && !cliHas(a.split('=')[0]!));
  return { opts: parseArgs(args.filter((a) => !pending.includes(a))), pending };
}

/** Which listener a container port is: by the options the args produced. */
function listenerOf(opts: ServerOptions, port: number): 'http' | 'grpc' | 'metrics' {
  if (opts.allowHttp && port === opts.httpPort) return 'http';
  if (opts.allowGrpc && port === opts.grpcPort) return 'grpc';
  if (opts.allowMetrics && port === opts.metricsPort) return 'metrics';
  throw new Error(`port ${port} is none of the server's (http ${opts.httpPort}, grpc ${opts.grpcPort}, metrics ${opts.metricsPort})`);
}

function portNumber(container: Record<string, any>, port: number | string): number {
  if (typeof port === 'number') return port;
  const p = (container.ports ?? []).find((x: { name?: string }) => x.name === port);
  assert.ok(p, `named port '${port}' exists on the container`);
  return p.containerPort;
}

describe('rendering', () => {
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  for (const o of OVERLAYS) {
    test(`overlay ${o} matches kubectl kustomize`, { skip: kubectl.status === 0 ? false : 'kubectl is not installed here: the renderer is not cross-checked' }, () => {
      const out = spawnSync('kubectl', ['kustomize', join(K8S, 'overlays', o)], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const theirs = out.stdout.split(/^---$/m).map((d) => parseYaml(d) as K8sObject).filter((d) => d !== null);
      const key = (x: K8sObject) => `${x.kind}/${x.metadata.name}`;
      const ours = rendered.get(o)!;
      assert.deepEqual(new Map(ours.map((x) => [key(x), x])), new Map(theirs.map((x) => [key(x), x])));
    });
  }
});

describe('schemas', () => {
  for (const [o, objs] of [...rendered, ['prometheus-adapter', adapter] as const]) {
    test(`${o}: every object validates against its API schema (unknown fields too)`, async () => {
      assert.ok(objs.length > 0);
      for (const obj of objs) assert.deepEqual(await schemaProblems(obj), [], `${obj.kind}/${obj.metadata.name}`);
    });
  }

  test('the validator catches a typo and a wrong type (so the checks above can fail)', async () => {
    const d = structuredClone(one(rendered.get('cpu')!, 'Deployment'));
    d.spec.template.spec.containers[0].readinesProbe = d.spec.template.spec.containers[0].readinessProbe;
    d.spec.template.spec.containers[0].ports[0].containerPort = '8000';
    d.spec.strategy.type = 'Rolling';
    const problems = await schemaProblems(d);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('/containers/0/readinesProbe is not a field')));
    assert.ok(problems.some((p) => p.startsWith('/spec/template/spec/containers/0/ports/0/containerPort type {"type":"integer"}')));
    assert.ok(problems.some((p) => p.startsWith('/spec/strategy/type enum')));
  });

  test('KServe: containers as core/v1 Containers; runtime and InferenceService fields as KServe defines them', async () => {
    const runtime = one(kserve, 'ClusterServingRuntime');
    assert.equal(runtime.apiVersion, 'serving.kserve.io/v1alpha1');
    assert.deepEqual(await schemaProblems(runtime.metadata, 'v1/ObjectMeta'), []);
    assertFields(runtime.spec, KSERVE_FIELDS.servingRuntimeSpec, 'ClusterServingRuntime.spec');
    for (const f of runtime.spec.supportedModelFormats) assertFields(f, KSERVE_FIELDS.supportedModelFormat, 'supportedModelFormats[]');
    for (const v of runtime.spec.protocolVersions) assert.ok(['v1', 'v2', 'grpc-v1', 'grpc-v2'].includes(v), v);
    for (const c of runtime.spec.containers) assert.deepEqual(await schemaProblems(c, 'v1/Container'), []);
    for (const isvc of kserve.filter((x) => x.kind === 'InferenceService')) {
      assert.equal(isvc.apiVersion, 'serving.kserve.io/v1beta1');
      assert.deepEqual(await schemaProblems(isvc.metadata, 'v1/ObjectMeta'), []);
      assertFields(isvc.spec, ['predictor'], 'InferenceService.spec');
      const p = isvc.spec.predictor;
      assertFields(p, KSERVE_FIELDS.predictor, 'predictor');
      const { modelFormat, runtime: rt, protocolVersion, storageUri, ...container } = p.model;
      assert.deepEqual(await schemaProblems({ name: 'kserve-container', ...container }, 'v1/Container'), [], `${isvc.metadata.name} predictor.model`);
      assert.equal(rt, runtime.metadata.name);
      assert.ok(runtime.spec.supportedModelFormats.some((f: { name: string }) => f.name === modelFormat.name));
      assert.ok(runtime.spec.protocolVersions.includes(protocolVersion));
      assert.match(storageUri, /^(s3|gs|pvc|https?|oci):\/\//);
      if (p.canaryTrafficPercent !== undefined) assert.ok(Number.isInteger(p.canaryTrafficPercent) && p.canaryTrafficPercent >= 0 && p.canaryTrafficPercent <= 100);
    }
  });
});

/** KServe API fields (serving.kserve.io v1alpha1 ServingRuntimeSpec, v1beta1 PredictorSpec), from its API reference. */
const KSERVE_FIELDS = {
  servingRuntimeSpec: ['supportedModelFormats', 'multiModel', 'disabled', 'protocolVersions', 'containers', 'volumes', 'nodeSelector',
    'affinity', 'tolerations', 'labels', 'annotations', 'imagePullSecrets', 'grpcEndpoint', 'grpcDataEndpoint', 'httpDataEndpoint',
    'replicas', 'storageHelper', 'builtInAdapter', 'workerSpec', 'hostIPC'],
  supportedModelFormat: ['name', 'version', 'autoSelect', 'priority'],
  predictor: ['model', 'minReplicas', 'maxReplicas', 'scaleTarget', 'scaleMetric', 'containerConcurrency', 'timeout',
    'canaryTrafficPercent', 'logger', 'batcher', 'serviceAccountName', 'nodeSelector', 'tolerations', 'affinity', 'labels', 'annotations',
    'deploymentStrategy', 'containers', 'volumes', 'imagePullSecrets'],
};

function assertFields(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) assert.ok(allowed.includes(k), `${where}.${k} is not a KServe field`);
}

describe('objects agree with each other', () => {
  for (const [o, objs] of rendered) {
    test(`${o}: selectors, ports, scale target, grace period, security context, admin key, model volume`, () => {
      const dep = one(objs, 'Deployment');
      const pod = dep.spec.template;
      const podLabels = pod.metadata.labels as Record<string, string>;
      const selects = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => podLabels[k] === v);
      assert.ok(selects(dep.spec.selector.matchLabels));
      assert.equal(dep.spec.replicas, undefined, 'the autoscaler owns the replica count');
      assert.equal(dep.spec.strategy.rollingUpdate.maxUnavailable, 0);
      for (const svc of objs.filter((x) => x.kind === 'Service')) {
        assert.ok(selects(svc.spec.selector), `${svc.metadata.name} selects the pods`);
      }
      const c = pod.spec.containers.find((x: { name: string }) => x.name === 'osprey');
      const svc = one(objs, 'Service', 'osprey');
      const ports = Object.fromEntries(svc.spec.ports.map((p: { name: string }) => [p.name, p]));
      assert.deepEqual(Object.keys(ports).sort(), ['grpc', 'http', 'metrics']);
      assert.equal(ports.http.port, 8000);
      assert.equal(ports.grpc.port, 8001);
      assert.equal(ports.grpc.appProtocol, 'grpc');
      assert.equal(ports.metrics.port, 8002);
      for (const p of Object.values(ports) as Array<{ port: number; targetPort: string | number }>) {
        assert.equal(portNumber(c, p.targetPort), p.port, `Service port ${p.port} reaches container port ${p.port}`);
      }
      assert.ok(selects(one(objs, 'PodDisruptionBudget').spec.selector.matchLabels));
      const sm = one(objs, 'ServiceMonitor');
      assert.ok(Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels?.[k] === v), 'ServiceMonitor selects the Service');
      assert.ok(sm.spec.endpoints.every((e: { port: string }) => e.port in ports));
      const scaler = objs.find((x) => x.kind === 'HorizontalPodAutoscaler' || x.kind === 'ScaledObject')!;
      assert.deepEqual({ kind: scaler.spec.scaleTargetRef.kind, name: scaler.spec.scaleTargetRef.name }, { kind: 'Deployment', name: dep.metadata.name });

      // Drain: the kubelet's grace covers the shutdown grace period and the exit timeout,
      // and readiness notices the not-ready state well inside the grace period.
      const { opts } = parseContainerArgs(expandArgs(c, { 'osprey-admin/key': ADMIN_KEY }));
      assert.ok(opts.shutdownGraceSecs > 0, '--shutdown-grace-secs is set');
      assert.ok(pod.spec.terminationGracePeriodSeconds >= opts.shutdownGraceSecs + opts.exitTimeoutSecs,
        `terminationGracePeriodSeconds ${pod.spec.terminationGracePeriodSeconds} >= ${opts.shutdownGraceSecs} + ${opts.exitTimeoutSecs}`);
      const rp = c.readinessProbe;
      assert.ok(rp.periodSeconds * rp.failureThreshold * 2 <= opts.shutdownGraceSecs, 'readiness fails within half the grace period');
      assert.ok(c.livenessProbe.httpGet?.path === '/v2/health/live', 'liveness stays true while draining');

      // Restricted security context.
      const psc = pod.spec.securityContext;
      assert.equal(psc.runAsNonRoot, true);
      assert.ok(psc.runAsUser > 0);
      assert.equal(psc.seccompProfile.type, 'RuntimeDefault');
      assert.deepEqual(c.securityContext, {
        allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] },
      });
      assert.equal(pod.spec.automountServiceAccountToken, false);

      // The model repository is a read-only volume at the path the args name.
      const mount = c.volumeMounts.find((m: { mountPath: string }) => opts.modelRepositories.includes(m.mountPath));
      assert.ok(mount, 'the model repository is mounted');
      assert.equal(mount.readOnly, true);
      assert.ok(pod.spec.volumes.some((v: { name: string }) => v.name === mount.name));
      // Writable scratch only where mounted (read-only root file system).
      assert.ok(c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/tmp'));

      // The admin key comes from a Secret, never from the manifest.
      const keyEnv = c.env.find((e: { name: string }) => e.name === 'OSPREY_ADMIN_KEY');
      assert.deepEqual(keyEnv.valueFrom, { secretKeyRef: { name: 'osprey-admin', key: 'key' } });
      const restricted = (c.args as string[]).filter((a) => PENDING_FLAGS.some((f) => a.startsWith(`${f}=`)));
      assert.equal(restricted.length, 2);
      for (const a of restricted) {
        assert.match(a, /^--[a-z-]+=[a-z-]+(,[a-z-]+)*:[a-z-]+=\$\(OSPREY_ADMIN_KEY\)$/, 'Triton syntax <cat>[,<cat>...]:<key>=<value>');
        const cats = a.split('=')[1]!.split(':')[0]!.split(',');
        for (const open of ['health', 'metadata', 'inference']) assert.ok(!cats.includes(open), `${open} stays open (probes, clients)`);
        assert.ok(cats.includes('model-repository') && cats.includes('traffic'));
      }

      if (o === 'gpu') {
        assert.equal(String(c.resources.limits['nvidia.com/gpu']), '1');
        assert.match(c.image, /-gpu$/);
        assert.ok(pod.spec.tolerations.some((t: { key: string }) => t.key === 'nvidia.com/gpu'));
      } else {
        assert.equal(c.resources.limits['nvidia.com/gpu'], undefined);
      }
    });
  }
});

describe('against the server', () => {
  let server: TestServer;
  let metricNames: Set<string>;

  before(async () => {
    // One server for the metric checks, with the Deployment's own options (ports aside).
    const c = one(rendered.get('cpu')!, 'Deployment').spec.template.spec.containers[0];
    const { opts } = parseContainerArgs(expandArgs(c, { 'osprey-admin/key': ADMIN_KEY }));
    server = await startLike(opts);
    // Traffic first, so every per-request series has samples.
    for (let i = 0; i < 3; i++) {
      const r = await infer(server.httpUrl, 'simple', { inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(i) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) },
      ] });
      assert.equal(r.reply.status, 200);
    }
    const m = await httpRequest(server.metricsUrl, 'GET', '/metrics');
    assert.equal(m.status, 200);
    metricNames = new Set(m.body.toString('utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]));
  });
  after(() => server?.shutdown());

  /** A server with `opts` but loopback ephemeral ports and the bundled repository for its model path. */
  function startLike(opts: Readonly<ServerOptions>): Promise<TestServer> {
    return startTestServer({
      ...opts, modelRepositories: [BUNDLED_REPO],
      httpPort: 0, grpcPort: 0, metricsPort: 0, httpAddress: '127.0.0.1', grpcAddress: '127.0.0.1', metricsAddress: '127.0.0.1',
    });
  }

  /** Every probe of `c` answers 200 (HTTP) or SERVING (gRPC) on the listener its port names. */
  async function checkProbes(c: Record<string, any>, opts: Readonly<ServerOptions>, s: TestServer, probes: string[]): Promise<void> {
    const actual = { http: s.httpPort, grpc: s.grpcPort, metrics: s.metricsPort };
    for (const name of probes) {
      const p = c[name];
      assert.ok(p, `${name} exists`);
      if (p.httpGet) {
        const which = listenerOf(opts, portNumber(c, p.httpGet.port));
        assert.notEqual(which, 'grpc', `${name} speaks HTTP to the HTTP port`);
        const r = await httpRequest(`http://127.0.0.1:${actual[which]}`, 'GET', p.httpGet.path);
        assert.equal(r.status, 200, `${name} GET ${p.httpGet.path} on ${which}`);
      } else if (p.grpc) {
        assert.equal(listenerOf(opts, portNumber(c, p.grpc.port)), 'grpc', `${name} speaks gRPC to the gRPC port`);
        const client = createGrpcClient(`127.0.0.1:${s.grpcPort}`);
        try {
          assert.equal(await client.healthCheck(p.grpc.service ?? ''), 'SERVING', name);
        } finally {
          client.close();
        }
      } else {
        assert.fail(`${name}: only httpGet and grpc probes are checked`);
      }
    }
  }

  for (const o of OVERLAYS) {
    test(`${o}: every argument is one the CLI accepts; every probe answers on its port when ready`, async (t) => {
      const c = one(rendered.get(o)!, 'Deployment').spec.template.spec.containers[0];
      const { opts, pending } = parseContainerArgs(expandArgs(c, { 'osprey-admin/key': ADMIN_KEY }));
      if (pending.length > 0) t.diagnostic(`not checked against the CLI, which does not have them yet (#16): ${pending.map((a) => a.split('=')[0]).join(', ')}`);
      for (const p of c.ports) listenerOf(opts, p.containerPort);
      assert.equal(listenerOf(opts, 8000), 'http');
      assert.equal(listenerOf(opts, 8001), 'grpc');
      assert.equal(listenerOf(opts, 8002), 'metrics');
      const s = o === 'cpu' ? server : await startLike(opts);
      try {
        await checkProbes(c, opts, s, ['startupProbe', 'readinessProbe', 'livenessProbe']);
      } finally {
        if (s !== server) await s.shutdown();
      }
    });
  }

  test('restricted-API arguments: validated by the CLI once it has the flags (#16)', (t) => {
    const c = one(rendered.get('cpu')!, 'Deployment').spec.template.spec.containers[0];
    const args = expandArgs(c, { 'osprey-admin/key': ADMIN_KEY }).filter((a) => PENDING_FLAGS.some((f) => a.startsWith(`${f}=`)));
    if (!PENDING_FLAGS.every(cliHas)) {
      t.skip(`the CLI has no ${PENDING_FLAGS.filter((f) => !cliHas(f)).join(' / ')} yet (the security issue adds them)`);
      return;
    }
    assert.doesNotThrow(() => parseArgs(args));
  });

  test('KServe runtime: its arguments (--model-store=/mnt/models --grpc-port=9000 --http-port=8080) parse; the predictors\' probes and ports answer', async () => {
    const runtime = one(kserve, 'ClusterServingRuntime');
    const c = runtime.spec.containers[0];
    const args = expandArgs(c, {});
    for (const a of ['--model-store=/mnt/models', '--grpc-port=9000', '--http-port=8080']) assert.ok(args.includes(a), a);
    const { opts, pending } = parseContainerArgs(args);
    assert.deepEqual(pending, []);
    assert.deepEqual(opts.modelRepositories, ['/mnt/models']);
    assert.equal(opts.httpPort, 8080);
    assert.equal(opts.grpcPort, 9000);
    const s = await startLike(opts);
    try {
      for (const isvc of kserve.filter((x) => x.kind === 'InferenceService')) {
        const model = isvc.spec.predictor.model;
        const merged: Record<string, any> = { ...c, ...model, ports: model.ports ?? [{ containerPort: opts.httpPort }] };
        for (const p of merged.ports as Array<{ containerPort: number }>) {
          const which = listenerOf(opts, p.containerPort);
          assert.equal(which, isvc.spec.predictor.model.protocolVersion === 'grpc-v2' ? 'grpc' : 'http', `${isvc.metadata.name} port ${p.containerPort}`);
        }
        const probes = ['readinessProbe', 'livenessProbe', 'startupProbe'].filter((n) => merged[n] !== undefined);
        await checkProbes(merged, opts, s, probes);
      }
      const prom = runtime.spec.annotations;
      assert.equal(listenerOf(opts, Number(prom['prometheus.kserve.io/port'])), 'metrics');
      assert.equal((await httpRequest(s.metricsUrl, 'GET', prom['prometheus.kserve.io/path'])).status, 200);
    } finally {
      await s.shutdown();
    }
  });

  test('every metric the HPA, the adapter rules and the KEDA queries name is on /metrics', () => {
    const config = parseYaml(one(adapter, 'ConfigMap').data['config.yaml']) as { rules: Array<Record<string, any>> };
    const exposed = new Set<string>();
    const named = new Set<string>();
    const seriesIn = (promql: string) => [...promql.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!).filter((n) => !/^(sum|rate|clamp_min|by)$/.test(n));
    for (const r of config.rules) {
      for (const n of [...seriesIn(r.seriesQuery), ...seriesIn(r.metricsQuery.replace('<<.Series>>', new RegExp(r.name.matches).source.replace(/^\^|\$$/g, '')))]) named.add(n);
      assert.ok(new RegExp(r.name.matches).test(seriesIn(r.seriesQuery)[0]!), 'name.matches matches the series');
      exposed.add(r.name.as);
    }
    for (const o of OVERLAYS) {
      for (const hpa of rendered.get(o)!.filter((x) => x.kind === 'HorizontalPodAutoscaler')) {
        for (const m of hpa.spec.metrics) {
          assert.equal(m.type, 'Pods');
          assert.ok(exposed.has(m.pods.metric.name), `${o} HPA metric ${m.pods.metric.name} is served by an adapter rule`);
        }
      }
      for (const so of rendered.get(o)!.filter((x) => x.kind === 'ScaledObject')) {
        for (const trig of so.spec.triggers) {
          assert.equal(trig.type, 'prometheus');
          for (const n of seriesIn(trig.metadata.query)) named.add(n);
        }
      }
    }
    assert.ok(named.size >= 3, [...named].join());
    for (const n of named) assert.ok(metricNames.has(n), `${n} is on /metrics`);
  });
});
