import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * What the tls provider (pulumi/pulumi-tls, over hashicorp/terraform-provider-tls) computes for
 * the resources k8s/standby/replicationTls.ts declares, made here with node's crypto and the
 * openssl CLI from the same inputs, so the local runtime and the tests get certificates that
 * really chain and really carry the declared uses. Only the inputs that program sets are read.
 */
export const TLS_TYPES = {
  privateKey: "tls:index/privateKey:PrivateKey",
  selfSignedCert: "tls:index/selfSignedCert:SelfSignedCert",
  certRequest: "tls:index/certRequest:CertRequest",
  locallySignedCert: "tls:index/locallySignedCert:LocallySignedCert",
} as const;

/** allowed_uses names (terraform-provider-tls) as openssl extension values. */
const KEY_USAGE: Record<string, string> = { digital_signature: "digitalSignature", key_encipherment: "keyEncipherment", cert_signing: "keyCertSign", crl_signing: "cRLSign" };
const EXTENDED_KEY_USAGE: Record<string, string> = { server_auth: "serverAuth", client_auth: "clientAuth" };

/** Runs openssl in a private directory with FILES written into it (keys never on argv), and returns OUT's text. */
function openssl(files: Record<string, string>, args: string[], out: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-tls-"));
  try {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    return fs.readFileSync(path.join(dir, out), "utf8");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function extensions(uses: string[], isCa: boolean): string {
  const keyUsage = uses.flatMap((use) => (KEY_USAGE[use] ? [KEY_USAGE[use]] : []));
  const extended = uses.flatMap((use) => (EXTENDED_KEY_USAGE[use] ? [EXTENDED_KEY_USAGE[use]] : []));
  return [
    `basicConstraints=critical,CA:${isCa ? "TRUE" : "FALSE"}`,
    ...(keyUsage.length ? [`keyUsage=critical,${keyUsage.join(",")}`] : []),
    ...(extended.length ? [`extendedKeyUsage=${extended.join(",")}`] : []),
  ].join("\n");
}

const days = (hours: number | undefined) => String(Math.max(1, Math.ceil((hours ?? 24) / 24)));
const subject = (inputs: Record<string, any>) => `/CN=${inputs.subject?.commonName ?? "redis-dr"}`;

/** The outputs the tls provider would add to INPUTS (secrets unwrapped) for a resource of TYPE, or undefined for another type. */
export function tlsOutputs(type: string, inputs: Record<string, any>): Record<string, any> | undefined {
  switch (type) {
    case TLS_TYPES.privateKey: {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", {
        namedCurve: "prime256v1",
        privateKeyEncoding: { type: "sec1", format: "pem" },
        publicKeyEncoding: { type: "spki", format: "pem" },
      });
      return { privateKeyPem: privateKey, publicKeyPem: publicKey };
    }
    case TLS_TYPES.selfSignedCert:
      return {
        certPem: openssl(
          { "key.pem": inputs.privateKeyPem },
          ["req", "-x509", "-new", "-key", "key.pem", "-subj", subject(inputs), "-days", days(inputs.validityPeriodHours), "-config", "/dev/null", "-out", "cert.pem", ...extensionArgs(inputs)],
          "cert.pem",
        ),
      };
    case TLS_TYPES.certRequest:
      return { certRequestPem: openssl({ "key.pem": inputs.privateKeyPem }, ["req", "-new", "-key", "key.pem", "-subj", subject(inputs), "-config", "/dev/null", "-out", "req.pem"], "req.pem") };
    case TLS_TYPES.locallySignedCert:
      return {
        certPem: openssl(
          { "req.pem": inputs.certRequestPem, "ca.pem": inputs.caCertPem, "ca-key.pem": inputs.caPrivateKeyPem, "ext.cnf": extensions(inputs.allowedUses ?? [], false) },
          ["x509", "-req", "-in", "req.pem", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-set_serial", String(crypto.randomInt(1, 2 ** 47)), "-days", days(inputs.validityPeriodHours), "-extfile", "ext.cnf", "-out", "cert.pem"],
          "cert.pem",
        ),
      };
    default:
      return undefined;
  }
}

/** A self-signed certificate's extensions as -addext arguments (req takes no -extfile). */
function extensionArgs(inputs: Record<string, any>): string[] {
  return extensions(inputs.allowedUses ?? [], Boolean(inputs.isCaCertificate))
    .split("\n")
    .flatMap((line) => ["-addext", line]);
}
