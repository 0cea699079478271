import * as k8s from "@pulumi/kubernetes";
import { restrictedContainerSecurity } from "../security";

/**
 * Tools the Redis image lacks, copied by init containers into a volume that the pods running
 * backup.sh (the backup job, the restore init container) and archive.sh mount.
 */
export const TOOLS_PATH = "/tools";
export const TOOLS_VOLUME = { name: "tools", emptyDir: { sizeLimit: "160Mi" } };
/** Where redis-dr-archiver is in the archiver image (app/Dockerfile, target archiver). */
export const ARCHIVER_BINARY_PATH = "/usr/local/bin/redis-dr-archiver";
/**
 * The rclone image's CA bundle (Alpine's ca-certificates, which rclone's Dockerfile installs),
 * copied beside rclone: the official redis image installs ca-certificates only to fetch gosu
 * and purges it again with --auto-remove (docker-library/redis Dockerfile), and the app image
 * is debian-slim without it, so neither could verify Object Storage's TLS certificate.
 */
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const TOOLS_CA_BUNDLE = `${TOOLS_PATH}/ca-certificates.crt`;

function copyingContainer(name: string, image: string, files: string[]): k8s.types.input.core.v1.Container {
  return {
    name,
    image,
    imagePullPolicy: "IfNotPresent",
    command: ["cp", ...files, `${TOOLS_PATH}/`],
    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "64Mi" } },
    securityContext: restrictedContainerSecurity(),
    volumeMounts: [{ name: TOOLS_VOLUME.name, mountPath: TOOLS_PATH }],
  };
}

/** Copies rclone's static binary and the CA bundle. */
export function rcloneToolsContainer(image: string): k8s.types.input.core.v1.Container {
  return copyingContainer("tools", image, ["/usr/local/bin/rclone", CA_BUNDLE]);
}

/**
 * Copies redis-dr-archiver, which links nothing but glibc (app/CMakeLists.txt), so the Redis
 * image runs it: backup.sh replays the archive with it (restore --at, log, undo, seed).
 */
export function archiverToolsContainer(image: string): k8s.types.input.core.v1.Container {
  return copyingContainer("archiver-tools", image, [ARCHIVER_BINARY_PATH]);
}

/** For a container that mounts the tools: rclone, and the CA bundle rclone and redis-dr-uploader verify TLS with. */
export const TOOLS_ENV = [
  { name: "RCLONE", value: `${TOOLS_PATH}/rclone` },
  { name: "RCLONE_CA_CERT", value: TOOLS_CA_BUNDLE },
  { name: "CURL_CA_BUNDLE", value: TOOLS_CA_BUNDLE },
];
/** For a container that also mounts archiverToolsContainer's copy. */
export const ARCHIVER_TOOL_ENV = [{ name: "ARCHIVER", value: `${TOOLS_PATH}/redis-dr-archiver` }];
