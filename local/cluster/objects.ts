import { MockResource, plain } from "./programMocks";

/**
 * The parts of the rendered Kubernetes objects the local kubelet and cluster DNS act on,
 * typed narrowly: what is not here is not emulated (resources, security contexts,
 * affinity and NetworkPolicy are the cluster's business, not the local run's).
 */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface Handler {
  exec?: { command: string[] };
  httpGet?: { path?: string; port: number | string; scheme?: string };
  tcpSocket?: { port: number | string };
}

export interface Probe extends Handler {
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: Handler };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}

export interface Volume {
  name: string;
  configMap?: { name: string; defaultMode?: number };
  secret?: { secretName: string; defaultMode?: number };
  emptyDir?: Record<string, unknown>;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    terminationGracePeriodSeconds?: number;
    initContainers?: Container[];
    containers: Container[];
    volumes?: Volume[];
  };
}

export interface Workload {
  kind: "StatefulSet" | "Deployment";
  name: string;
  namespace: string;
  replicas: number;
  /** StatefulSet: the headless Service that gives each pod its DNS name. */
  serviceName?: string;
  /** StatefulSet: per-pod volumes, named like the volumes they mount as. */
  volumeClaimTemplates: string[];
  template: PodTemplate;
}

export interface ServiceObject {
  name: string;
  namespace: string;
  type: string;
  headless: boolean;
  publishNotReadyAddresses: boolean;
  selector: Record<string, string>;
}

export interface ClusterObjects {
  workloads: Workload[];
  services: ServiceObject[];
  /** name -> key -> value (stringData and base64 data alike, decoded). */
  secrets: Map<string, Record<string, string>>;
  configMaps: Map<string, Record<string, string>>;
}

const KIND_OF_TYPE: Record<string, string> = {
  "kubernetes:apps/v1:StatefulSet": "StatefulSet",
  "kubernetes:apps/v1:Deployment": "Deployment",
  "kubernetes:core/v1:Service": "Service",
  "kubernetes:core/v1:Secret": "Secret",
  "kubernetes:core/v1:ConfigMap": "ConfigMap",
};

/** The rendered program's workloads, Services, Secrets and ConfigMaps (secret wrappers removed). */
export function clusterObjects(resources: Array<Pick<MockResource, "type" | "inputs">>): ClusterObjects {
  const objects: ClusterObjects = { workloads: [], services: [], secrets: new Map(), configMaps: new Map() };
  for (const resource of resources) {
    const kind = KIND_OF_TYPE[resource.type];
    if (!kind) continue;
    const obj = plain(resource.inputs);
    const name: string = obj.metadata?.name;
    const namespace: string = obj.metadata?.namespace ?? "default";
    if (kind === "Secret") {
      const decoded = Object.fromEntries(Object.entries(obj.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), "base64").toString()]));
      objects.secrets.set(name, { ...decoded, ...(obj.stringData ?? {}) });
    } else if (kind === "ConfigMap") {
      objects.configMaps.set(name, { ...(obj.data ?? {}) });
    } else if (kind === "Service") {
      objects.services.push({
        name,
        namespace,
        type: obj.spec?.type ?? "ClusterIP",
        headless: obj.spec?.clusterIP === "None",
        publishNotReadyAddresses: obj.spec?.publishNotReadyAddresses === true,
        selector: obj.spec?.selector ?? {},
      });
    } else {
      objects.workloads.push({
        kind: kind as Workload["kind"],
        name,
        namespace,
        replicas: obj.spec?.replicas ?? 1,
        ...(obj.spec?.serviceName ? { serviceName: obj.spec.serviceName } : {}),
        volumeClaimTemplates: (obj.spec?.volumeClaimTemplates ?? []).map((t: { metadata: { name: string } }) => t.metadata.name),
        template: obj.spec.template,
      });
    }
  }
  return objects;
}

export function workloadNamed(objects: ClusterObjects, kind: Workload["kind"], name: string): Workload {
  const found = objects.workloads.find((w) => w.kind === kind && w.name === name);
  if (!found) throw new Error(`the rendered program has no ${kind} "${name}" (it has: ${objects.workloads.map((w) => `${w.kind}/${w.name}`).join(", ") || "none"})`);
  return found;
}

/** Whether a Service selects pods with these labels. */
export function selects(service: ServiceObject, labels: Record<string, string>): boolean {
  const entries = Object.entries(service.selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}
