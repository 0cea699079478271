import * as fs from "fs";
import * as path from "path";
import { ClusterObjects, Container, EnvVar, Handler, Probe, Workload } from "./objects";

/** A probe or hook as the local kubelet runs it: paths already mapped onto this machine. */
export type Action = { kind: "exec"; argv: string[] } | { kind: "http"; port: number; path: string } | { kind: "tcp"; port: number };

export interface ProbeSpec {
  action: Action;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export interface ContainerSpec {
  name: string;
  argv: string[];
  env: Record<string, string>;
  /** Where each of its mount points is on this machine. */
  mounts: Array<{ mountPath: string; dir: string }>;
  startup?: ProbeSpec;
  liveness?: ProbeSpec;
  readiness?: ProbeSpec;
  preStop?: Action;
}

export interface PodSpec {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  /** terminationGracePeriodSeconds, in ms (Kubernetes' default is 30 s). */
  graceMs: number;
  initContainers: ContainerSpec[];
  containers: ContainerSpec[];
  /** Containers of the template that do not run here, each with the reason. */
  skipped: Array<{ name: string; reason: string }>;
}

export interface PodPlacement {
  /** The pod's name: `<statefulset>-<ordinal>`, or any unique name for a Deployment's pod. */
  name: string;
  /** The pod's IP (status.podIP). */
  ip: string;
  /** Where the pod's volumes live on this machine. */
  dir: string;
  /** Where a StatefulSet's per-pod volumes (volumeClaimTemplates) live: they outlive the pod. */
  claimsDir: string;
  /** Image -> entrypoint on this machine, for containers that run their image's entrypoint. */
  images: Record<string, string[] | undefined>;
  /** Only these containers run (all by default): a test or a narrow local run can leave some out. */
  containers?: string[];
  /** Set after the rendered environment: what a pod without its own network namespace needs. */
  envOverrides?: Record<string, string>;
}

// Kubernetes' defaults for a probe's fields (core/v1 Probe).
const PROBE_DEFAULTS = { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
const DEFAULT_GRACE_SECONDS = 30;

/**
 * `$(VAR)` references expand to variables defined earlier in the list; `$$` escapes one;
 * an unknown reference stays as written (Kubernetes' rule for env values, command and args).
 */
export function expandReferences(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    return name !== undefined && name in vars ? vars[name]! : match;
  });
}

function resolveEnv(env: EnvVar[], pod: { name: string; namespace: string; ip: string }, objects: ClusterObjects, container: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const variable of env) {
    const from = variable.valueFrom;
    let value: string | undefined;
    if (from?.fieldRef) {
      const fields: Record<string, string> = { "metadata.name": pod.name, "metadata.namespace": pod.namespace, "status.podIP": pod.ip };
      value = fields[from.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`${pod.name}/${container}: env ${variable.name}: fieldRef ${from.fieldRef.fieldPath} is not emulated`);
    } else if (from?.secretKeyRef || from?.configMapKeyRef) {
      const ref = (from.secretKeyRef ?? from.configMapKeyRef)!;
      const kind = from.secretKeyRef ? "Secret" : "ConfigMap";
      const source = (from.secretKeyRef ? objects.secrets : objects.configMaps).get(ref.name);
      value = source?.[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        throw new Error(`${pod.name}/${container}: env ${variable.name}: ${kind} "${ref.name}" has no key "${ref.key}" in the rendered program`);
      }
    } else {
      value = expandReferences(variable.value ?? "", vars);
    }
    vars[variable.name] = value;
  }
  return vars;
}

/** Where an in-container path of CONTAINER is on this machine (a path under none of its mounts stays as it is). */
export function localPath(container: Pick<ContainerSpec, "mounts">, inContainer: string): string {
  return pathMapper(container.mounts)(inContainer);
}

/** Maps in-container paths (mount points) onto the local directories that stand in for them. */
function pathMapper(mounts: Array<{ mountPath: string; dir: string }>): (text: string) => string {
  const longestFirst = [...mounts].sort((a, b) => b.mountPath.length - a.mountPath.length);
  return (text) => {
    for (const { mountPath, dir } of longestFirst) {
      if (text === mountPath || text.startsWith(`${mountPath}/`)) return dir + text.slice(mountPath.length);
    }
    return text;
  };
}

function portNumber(container: Container, port: number | string): number {
  if (typeof port === "number") return port;
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`container ${container.name}: no port named "${port}"`);
  return named.containerPort;
}

function action(handler: Handler, container: Container, mapPath: (s: string) => string, where: string): Action {
  if (handler.exec) return { kind: "exec", argv: handler.exec.command.map(mapPath) };
  if (handler.httpGet) {
    if ((handler.httpGet.scheme ?? "HTTP") !== "HTTP") throw new Error(`${where}: only HTTP probes are emulated`);
    return { kind: "http", port: portNumber(container, handler.httpGet.port), path: handler.httpGet.path ?? "/" };
  }
  if (handler.tcpSocket) return { kind: "tcp", port: portNumber(container, handler.tcpSocket.port) };
  throw new Error(`${where}: a handler with no exec, httpGet or tcpSocket`);
}

function probe(spec: Probe | undefined, container: Container, mapPath: (s: string) => string, where: string): ProbeSpec | undefined {
  if (!spec) return undefined;
  const p = { ...PROBE_DEFAULTS, ...spec };
  return {
    action: action(spec, container, mapPath, where),
    initialDelayMs: p.initialDelaySeconds * 1000,
    periodMs: p.periodSeconds * 1000,
    timeoutMs: p.timeoutSeconds * 1000,
    successThreshold: p.successThreshold,
    failureThreshold: p.failureThreshold,
  };
}

/**
 * Write a pod's volumes where the pod will see them: ConfigMap volumes from the rendered
 * ConfigMaps (the scripts and config files the cluster would mount), emptyDirs fresh for
 * every pod, and claims kept from the pod's previous life. Returns volume name -> directory.
 */
export function prepareVolumes(workload: Workload, placement: PodPlacement, objects: ClusterObjects): Record<string, string> {
  const dirs: Record<string, string> = {};
  for (const claim of workload.volumeClaimTemplates) {
    dirs[claim] = path.join(placement.claimsDir, `${claim}-${placement.name}`);
    fs.mkdirSync(dirs[claim]!, { recursive: true, mode: 0o700 });
  }
  for (const volume of workload.template.spec.volumes ?? []) {
    const dir = path.join(placement.dir, "volumes", volume.name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const source = volume.configMap
      ? { data: objects.configMaps.get(volume.configMap.name), mode: volume.configMap.defaultMode, what: `ConfigMap "${volume.configMap.name}"` }
      : volume.secret
        ? { data: objects.secrets.get(volume.secret.secretName), mode: volume.secret.defaultMode, what: `Secret "${volume.secret.secretName}"` }
        : undefined;
    if (source) {
      if (!source.data) throw new Error(`volume ${volume.name}: the rendered program has no ${source.what}`);
      for (const [key, value] of Object.entries(source.data)) fs.writeFileSync(path.join(dir, key), value, { mode: source.mode ?? 0o644 });
    }
    dirs[volume.name] = dir;
  }
  return dirs;
}

function containerSpec(
  container: Container,
  workload: Workload,
  placement: PodPlacement,
  objects: ClusterObjects,
  volumes: Record<string, string>,
): ContainerSpec | { skipped: string } {
  const where = `${placement.name}/${container.name}`;
  const mounts = (container.volumeMounts ?? []).map((m) => {
    const dir = volumes[m.name];
    if (!dir) throw new Error(`${where}: mounts volume "${m.name}", which the pod does not have`);
    return { mountPath: m.mountPath, dir };
  });
  const mapPath = pathMapper(mounts);
  const rendered = resolveEnv(container.env ?? [], { name: placement.name, namespace: workload.namespace, ip: placement.ip }, objects, container.name);
  const env = { ...Object.fromEntries(Object.entries(rendered).map(([k, v]) => [k, mapPath(v)])), ...placement.envOverrides };
  let argv: string[];
  if (container.command) {
    argv = [...container.command, ...(container.args ?? [])].map((a) => mapPath(expandReferences(a, env)));
  } else {
    const entrypoint = placement.images[container.image];
    if (!entrypoint) return { skipped: `image ${container.image} has no entrypoint on this machine` };
    argv = [...entrypoint, ...(container.args ?? []).map((a) => mapPath(expandReferences(a, env)))];
  }
  const probes = {
    startup: probe(container.startupProbe, container, mapPath, `${where} startupProbe`),
    liveness: probe(container.livenessProbe, container, mapPath, `${where} livenessProbe`),
    readiness: probe(container.readinessProbe, container, mapPath, `${where} readinessProbe`),
  };
  const preStop = container.lifecycle?.preStop ? action(container.lifecycle.preStop, container, mapPath, `${where} preStop`) : undefined;
  return {
    name: container.name,
    argv,
    env,
    mounts,
    ...Object.fromEntries(Object.entries(probes).filter(([, p]) => p !== undefined)),
    ...(preStop ? { preStop } : {}),
  };
}

/**
 * One pod of a rendered workload, resolved for this machine: every container's command and
 * environment (Secret, ConfigMap and field references resolved from the rendered objects),
 * probes, preStop hook and grace period, with in-container paths mapped onto its volumes.
 */
export function podSpec(workload: Workload, placement: PodPlacement, objects: ClusterObjects): PodSpec {
  const volumes = prepareVolumes(workload, placement, objects);
  const wanted = (c: Container) => placement.containers === undefined || placement.containers.includes(c.name);
  const skipped: PodSpec["skipped"] = [];
  const resolve = (list: Container[]) =>
    list.filter(wanted).flatMap((c) => {
      const spec = containerSpec(c, workload, placement, objects, volumes);
      if ("skipped" in spec) {
        skipped.push({ name: c.name, reason: spec.skipped });
        return [];
      }
      return [spec];
    });
  return {
    name: placement.name,
    namespace: workload.namespace,
    labels: workload.template.metadata?.labels ?? {},
    graceMs: (workload.template.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS) * 1000,
    initContainers: resolve(workload.template.spec.initContainers ?? []),
    containers: resolve(workload.template.spec.containers),
    skipped,
  };
}
