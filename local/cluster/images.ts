import * as path from "path";
import { StackConfig } from "../../config/schema";

/** The service binary `npm run app:build` makes: what the app image's entrypoint runs. */
export const APP_BINARY = path.resolve(__dirname, "../../app/build/redis-dr-app");

/**
 * Images whose entrypoint a container runs as is (no command in the manifest), and what that
 * entrypoint is on this machine: the service binary, and Debian's redis exporter.
 */
export function localImages(cfg: StackConfig): Record<string, string[]> {
  return { [cfg.appImage]: [APP_BINARY], [cfg.redisExporterImage]: ["prometheus-redis-exporter"] };
}
