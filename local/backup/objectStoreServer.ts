// The local object store's own process (LocalObjectStore starts it): s3rver reads its directory
// synchronously on every listing and download, so in the process of a drill or `npm start` it
// would stall the load, the kubelet and the probes, and they it. Serves until SIGTERM or until
// its parent goes (stdin closes), so a killed parent leaves no server holding the port.
import S3rver from "s3rver";

interface ServerOptions {
  directory: string;
  address: string;
  port: number;
  bucket: string;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? "") as ServerOptions;
  const server = new S3rver({ address: opts.address, port: opts.port, directory: opts.directory, silent: true, configureBuckets: [{ name: opts.bucket, configs: [] }] });
  await server.run();
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGTERM", close);
  process.on("SIGINT", close);
  process.stdin.on("close", close);
  process.stdin.resume();
  process.stdout.write("ready\n");
}

main().catch((e: unknown) => {
  process.stderr.write(`object store: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
