import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Credentials } from "../probe/connection";

/** Local passwords: generated once per topology directory, kept in 0600 files beside its data. */
export function localCredentials(baseDir: string): Credentials {
  const read = (name: string) => {
    const file = path.join(baseDir, name);
    if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(24).toString("hex"), { mode: 0o600 });
    return fs.readFileSync(file, "utf8").trim();
  };
  return { redisPassword: read("redis-password"), sentinelPassword: read("sentinel-password") };
}
