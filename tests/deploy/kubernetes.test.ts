// deploy/kubernetes: every object validated against the Kubernetes OpenAPI schemas (kubernetes-models'
// generated validators), then the properties the README promises: exactly the measured capabilities, the
// generated seccomp profile, probes on /health and /ready, a memory limit that holds the jails, settings
// the service accepts, and a Secret placeholder the service refuses.
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../src/api/auth/api-keys.js';
import { loadConfig, SETTINGS } from '../../src/config/settings.js';
import { expectDocumentedPrivileges, expectJailsServeTwoTenants, waitReady } from './in-container.js';
import { documentedCapabilities, IMAGE, PODMAN_ENV, podmanUnavailable, REPO, repoFile, run, yamlDocuments, type Yaml } from './support.js';

const DIR = 'deploy/kubernetes/';
const FILES = ['namespace.yaml', 'configmap.yaml', 'secret.yaml', 'deployment.yaml', 'service.yaml'];

interface Validatable { validate(): void }
const MODELS: Record<string, (doc: Yaml) => Validatable> = {
  'v1/Namespace': (doc) => new Namespace(doc as ConstructorParameters<typeof Namespace>[0]),
  'v1/ConfigMap': (doc) => new ConfigMap(doc as ConstructorParameters<typeof ConfigMap>[0]),
  'v1/Secret': (doc) => new Secret(doc as ConstructorParameters<typeof Secret>[0]),
  'v1/Service': (doc) => new Service(doc as ConstructorParameters<typeof Service>[0]),
  'apps/v1/Deployment': (doc) => new Deployment(doc as ConstructorParameters<typeof Deployment>[0]),
};

function model(doc: Yaml): Validatable {
  const make = MODELS[`${String(doc.apiVersion)}/${String(doc.kind)}`];
  if (!make) throw new Error(`no schema for ${String(doc.apiVersion)} ${String(doc.kind)}`);
  return make(doc);
}

function only(file: string): Yaml {
  const docs = yamlDocuments(`${DIR}${file}`);
  expect(docs).toHaveLength(1);
  return docs[0]!;
}

const deployment = new Deployment(only('deployment.yaml') as ConstructorParameters<typeof Deployment>[0]);
const pod = deployment.spec!.template.spec!;
const container = pod.containers[0]!;
const configData = (only('configmap.yaml').data ?? {}) as Record<string, string>;

function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`unexpected quantity ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

describe('deploy/kubernetes', () => {
  it('kubernetes_manifests_validate_against_the_kubernetes_schemas', () => {
    for (const file of FILES) {
      for (const doc of yamlDocuments(`${DIR}${file}`)) {
        expect(() => model(doc).validate(), `${file}: ${String(doc.kind)}`).not.toThrow();
        const metadata = doc.metadata as Yaml;
        // Everything lives in the confine namespace (the Namespace object is that namespace).
        expect(doc.kind === 'Namespace' ? metadata.name : metadata.namespace, file).toBe('confine');
      }
    }
  });

  it('kubernetes_schema_check_rejects_a_malformed_deployment', () => {
    // The validator bites: a capability given as a number and a pod without containers are refused.
    const bad = structuredClone(only('deployment.yaml'));
    ((((bad.spec as Yaml).template as Yaml).spec as Yaml).containers as Yaml[])[0]!.securityContext = { capabilities: { add: [21] } };
    expect(() => model(bad).validate()).toThrow(/capabilities\/add\/0 must be string/);
    const empty = structuredClone(only('deployment.yaml'));
    delete (((empty.spec as Yaml).template as Yaml).spec as Yaml).containers;
    expect(() => model(empty).validate()).toThrow(/containers/);
  });

  it('kubernetes_container_grants_exactly_the_documented_capabilities_and_nothing_privileged', () => {
    const sc = container.securityContext!;
    expect(sc.capabilities?.drop).toEqual(['ALL']);
    expect([...(sc.capabilities?.add ?? [])].sort()).toEqual(documentedCapabilities());
    expect(sc.privileged).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.procMount).toBeUndefined();
    expect(pod.hostPID ?? false).toBe(false);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostIPC ?? false).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect((pod.volumes ?? []).filter((v) => v.hostPath !== undefined)).toEqual([]);
    expect(pod.containers).toHaveLength(1);
    expect(container.image).toBe(IMAGE);
    // Same privileges as compose.yaml.
    const compose = ((yamlDocuments('compose.yaml')[0]!.services as Yaml).confine as Yaml);
    expect([...(compose.cap_add as string[])].sort()).toEqual([...(sc.capabilities?.add ?? [])].sort());
  });

  it('kubernetes_pod_runs_under_the_generated_seccomp_profile', () => {
    const expected = { type: 'Localhost', localhostProfile: 'confine.json' };
    expect(pod.securityContext?.seccompProfile).toEqual(expected);
    expect(container.securityContext?.seccompProfile).toEqual(expected);
    // The older annotation some runtimes read instead (Kubernetes requires it to match the field).
    expect(deployment.spec?.template.metadata?.annotations?.['container.seccomp.security.alpha.kubernetes.io/confine']).toBe('localhost/confine.json');
    expect(repoFile(`${DIR}deployment.yaml`)).toContain('copy security/seccomp.json there');
  });

  it('kubernetes_probes_ask_health_for_liveness_and_ready_for_readiness', () => {
    expect(container.livenessProbe?.httpGet?.path).toBe('/health');
    expect(container.readinessProbe?.httpGet?.path).toBe('/ready');
    expect(container.startupProbe?.httpGet?.path).toBe('/health');
    const port = container.ports?.find((p) => p.name === container.livenessProbe?.httpGet?.port);
    expect(port?.containerPort).toBe(Number(configData.PORT));
    // The grace period covers the service's own drain.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(configData.SHUTDOWN_GRACE_SECONDS));
  });

  it('kubernetes_memory_limit_holds_every_worker_jail_and_the_service', () => {
    const limits = container.resources?.limits as Record<string, string>;
    const requests = container.resources?.requests as Record<string, string>;
    const jails = Number(configData.WORKERS) * Math.max(Number(configData.MEMORY_LIMIT), Number(configData.EXEC_MEMORY_LIMIT_MB));
    expect(mebibytes(limits.memory!)).toBeGreaterThanOrEqual(jails + 512);
    expect(mebibytes(requests.memory!)).toBeLessThanOrEqual(mebibytes(limits.memory!));
    expect(Number(limits.cpu)).toBeGreaterThanOrEqual(Number(configData.CPU_LIMIT));
  });

  it('kubernetes_configmap_holds_only_settings_the_service_accepts', () => {
    for (const key of Object.keys(configData)) expect(Object.hasOwn(SETTINGS, key), key).toBe(true);
    const config = loadConfig({ ...configData, API_KEYS: 'team:0123456789abcdef' });
    expect(config.workers).toBe(Number(configData.WORKERS));
    // API keys come from the Secret only, never the ConfigMap.
    expect(configData.API_KEYS).toBeUndefined();
    expect(container.env?.find((e) => e.name === 'API_KEYS')?.valueFrom?.secretKeyRef?.name).toBe('confine-api-keys');
  });

  it('kubernetes_secret_placeholder_is_refused_by_the_service', () => {
    const placeholder = ((only('secret.yaml').stringData ?? {}) as Record<string, string>).API_KEYS!;
    expect(() => parseApiKeys(placeholder)).toThrow(/at least 8 characters/);
    // and re-applying the kustomization never resets real keys to it.
    expect(repoFile(`${DIR}kustomization.yaml`)).not.toMatch(/^\s*- secret\.yaml/m);
  });

  it('kubernetes_service_reaches_the_pod_and_the_kustomization_lists_the_manifests', () => {
    const service = only('service.yaml');
    const spec = service.spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
    expect(deployment.spec?.template.metadata?.labels).toMatchObject(spec.selector);
    expect(container.ports?.map((p) => p.name)).toContain(spec.ports[0]!.targetPort);
    const kustomization = yamlDocuments(`${DIR}kustomization.yaml`)[0]!;
    expect(kustomization.resources).toEqual(FILES.filter((f) => f !== 'secret.yaml'));
  });
});

/** Whether something on this host already listens on the port (podman kube play publishes containerPort). */
function portBusy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(false)));
  });
}

describe('deploy/kubernetes played by podman (podman kube play)', () => {
  const pod = `${String(deployment.metadata?.name)}-pod-0`;
  const name = `${pod}-${container.name}`;
  const secret = container.env!.find((e) => e.name === 'API_KEYS')!.valueFrom!.secretKeyRef!.name!;
  const keyA = 'kube-alpha-0123456789abcdef';
  const keyB = 'kube-bravo-0123456789abcdef';
  let unavailable: string | null = null;
  let profiles = '';
  let played = false;

  beforeAll(async () => {
    unavailable = await podmanUnavailable();
    if (!unavailable && await portBusy(container.ports![0]!.containerPort)) unavailable = `port ${container.ports![0]!.containerPort} is in use on this host (podman kube play publishes the containerPort)`;
    if (unavailable) process.stderr.write(`\n!!! tests/deploy/kubernetes.test.ts podman kube play CANNOT RUN: ${unavailable} (fails unless CONFINE_ALLOW_NO_CONTAINER=1) !!!\n\n`);
    profiles = await mkdtemp(join(tmpdir(), 'confine-kube-'));
  });

  afterAll(async () => {
    if (played) await run('podman', ['kube', 'play', '--down', `${REPO}${DIR}deployment.yaml`], PODMAN_ENV);
    await run('podman', ['secret', 'rm', secret], PODMAN_ENV);
    await rm(profiles, { recursive: true, force: true });
  });

  it('kubernetes_deployment_played_by_podman_runs_jails_with_exactly_its_privileges', async (ctx) => {
    if (unavailable) {
      expect(process.env.CONFINE_ALLOW_NO_CONTAINER, `cannot play the Deployment with podman: ${unavailable} (CONFINE_ALLOW_NO_CONTAINER=1 accepts that)`).toBe('1');
      return ctx.skip();
    }
    // The node's kubelet seccomp directory, holding the generated profile under the name the manifest uses.
    await copyFile(`${REPO}security/seccomp.json`, join(profiles, container.securityContext!.seccompProfile!.localhostProfile!));
    // podman 4 reads a Secret from its own store: a JSON map of key -> base64 value.
    const secretFile = join(profiles, 'secret.json');
    await writeFile(secretFile, JSON.stringify({ API_KEYS: Buffer.from(`alpha:${keyA},bravo:${keyB}`).toString('base64') }));
    await run('podman', ['secret', 'rm', secret], PODMAN_ENV);
    expect((await run('podman', ['secret', 'create', secret, secretFile], PODMAN_ENV)).code).toBe(0);
    await run('podman', ['pod', 'rm', '-f', pod], PODMAN_ENV);

    const play = await run('podman', ['kube', 'play', '--configmap', `${REPO}${DIR}configmap.yaml`, '--seccomp-profile-root', profiles, `${REPO}${DIR}deployment.yaml`], PODMAN_ENV);
    played = true;
    expect(play.code, play.stderr).toBe(0);
    await waitReady(name);
    await expectDocumentedPrivileges(name);
    // The ConfigMap reached the service: WORKERS as the manifest sets it.
    const workers = await run('podman', ['exec', name, 'printenv', 'WORKERS'], PODMAN_ENV);
    expect(workers.stdout.trim()).toBe(configData.WORKERS);
    await expectJailsServeTwoTenants(name, keyA, keyB);
  }, 300_000);
});
