// deploy/kubernetes: every object validated against the Kubernetes OpenAPI schemas (kubernetes-models'
// generated validators), then the properties the README promises: exactly the measured capabilities, the
// generated seccomp profile, probes on /health and /ready, a memory limit that holds the jails, settings
// the service accepts, and a Secret placeholder the service refuses.
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../src/api/auth/api-keys.js';
import { loadConfig, SETTINGS } from '../../src/config/settings.js';
import { documentedCapabilities, IMAGE, repoFile, yamlDocuments, type Yaml } from './support.js';

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
    const expected = { type: 'Localhost', localhostProfile: 'profiles/confine.json' };
    expect(pod.securityContext?.seccompProfile).toEqual(expected);
    expect(container.securityContext?.seccompProfile).toEqual(expected);
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
