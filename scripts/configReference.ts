import { z } from "zod";
import { stackConfigShape } from "../config/schema";
import { schemaInfo } from "../config/schemaInfo";

/** The README's "Stack config" table, generated from the schema so the two cannot drift apart. */
export function configReferenceTable(): string {
  const rows = Object.entries(stackConfigShape).map(([key, schema]) => {
    const { required, defaultValue } = schemaInfo(schema as z.ZodType);
    const value = required ? "required" : defaultValue === undefined ? "unset" : `\`${JSON.stringify(defaultValue)}\``;
    return `| \`redis-dr:${key}\` | ${value} | ${(schema as z.ZodType).description ?? ""} |`;
  });
  const secrets = [
    "| `redis-dr:redisPassword` (secret) | generated | The Redis `admin` user's password (pod scripts, backups, operators); 16-128 of letters, digits and !#%+-./:=@^_~ (no comma). Set with `pulumi config set --secret`. |",
    "| `redis-dr:sentinelPassword` (secret) | generated | Sentinel requirepass; 16-128 of letters, digits and !#%+,-./:=@^_~. |",
    "| `redis-dr:apiTokens` (secret) | one generated (48 characters) | Bearer tokens the public API accepts, comma-separated, each 32-128 of letters, digits and -._~+/; list the old and the new one during a rotation. Stack output `apiToken` is the last. |",
    "| `redis-dr:appRedisPasswords`, `redis-dr:monitorPasswords`, `redis-dr:replicationPasswords`, `redis-dr:sentinelUserPasswords`, `redis-dr:archiverPasswords`, `redis-dr:standbyPasswords`, `redis-dr:relayPasswords` (secret) | one generated each (40 characters) | Passwords of the Redis users `app`, `monitor`, `replication`, `sentinel`, `archiver`, `standby` and `relay`, each a comma-separated list of 16-128 of letters, digits and !#%+-./:=@^_~: Redis accepts all, clients use the first (see Redis users below). |",
  ];
  return ["| key | default | meaning |", "| --- | --- | --- |", ...rows, ...secrets].join("\n");
}

if (require.main === module) console.log(configReferenceTable());
