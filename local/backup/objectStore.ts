import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { pathToFileURL } from "url";
import { STORE_KEY_VARIABLES, storeVariables } from "../../k8s/backup/settings";

/** How a backup script reaches an S3-compatible store: rclone's remote "store", from the environment. */
export interface ObjectStoreAccess {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Region string sent in signatures; S3-compatible stores mostly ignore it. */
  region: string;
}

/** The environment backup.sh reads for its store (see objectstore.sh), key included. */
export function objectStoreEnvironment(store: ObjectStoreAccess): Record<string, string> {
  return {
    ...storeVariables(store),
    [STORE_KEY_VARIABLES.accessKeyId]: store.accessKeyId,
    [STORE_KEY_VARIABLES.secretAccessKey]: store.secretAccessKey,
  };
}

/** s3rver's fixed credentials: it checks signatures against these. */
const LOCAL_KEY = "S3RVER";

/**
 * The local stand-in for Object Storage in another region: an S3-compatible server (s3rver)
 * on loopback whose state lives in a directory of its own, kept across `npm start --fresh`.
 */
export class LocalObjectStore {
  private server: ChildProcess | undefined;

  constructor(
    readonly directory: string,
    readonly bucket: string,
    readonly port: number,
    readonly address = "127.0.0.1",
  ) {}

  get access(): ObjectStoreAccess {
    return { endpoint: `http://${this.address}:${this.port}`, bucket: this.bucket, accessKeyId: LOCAL_KEY, secretAccessKey: LOCAL_KEY, region: "local" };
  }

  /** The server's process, while it runs. */
  get pid(): number | undefined {
    return this.server?.pid;
  }

  /** Starts s3rver in a process of its own (objectStoreServer.ts says why) and waits until it serves. */
  async start(): Promise<ObjectStoreAccess> {
    fs.mkdirSync(this.directory, { recursive: true });
    const options = JSON.stringify({ directory: this.directory, address: this.address, port: this.port, bucket: this.bucket });
    const child = spawn(process.execPath, ["--import", TSX_LOADER, path.join(__dirname, "objectStoreServer.ts"), options], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`the local object store on ${this.address}:${this.port} did not start (exit ${code}): ${stderr.trim()}`));
      child.once("exit", exited);
      child.stdout!.once("data", () => {
        child.off("exit", exited);
        resolve();
      });
    });
    this.server = child;
    return this.access;
  }

  async stop(): Promise<void> {
    const child = this.server;
    this.server = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
}

/** tsx's loader, so the server's own process runs its TypeScript as this one does. */
const TSX_LOADER = pathToFileURL(require.resolve("tsx")).href;

/** Where `npm start` keeps a stack's "other region": .local/<stack>/objects, which --fresh keeps. */
export const LOCAL_STORE_DIR = "objects";
const LOCAL_STORE_PORT = 19500;

/** The store of a stack's local topology, listening where its pods reach the host. */
export function localObjectStore(baseDir: string, stack: string, hostAddress: string, port = LOCAL_STORE_PORT): LocalObjectStore {
  return new LocalObjectStore(`${baseDir}/${LOCAL_STORE_DIR}`, `redis-dr-${stack}-backups`, port, hostAddress);
}
