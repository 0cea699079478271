import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

/** Five years; `pulumi up` in the last 90 days renews a certificate, and the renewal rolls the Redis pods. */
const VALIDITY_HOURS = 5 * 365 * 24;
const EARLY_RENEWAL_HOURS = 90 * 24;
const KEY = { algorithm: "ECDSA", ecdsaCurve: "P256" } as const;

/** What each side of the replication link holds: the CA certificate, its own certificate and key. */
export interface TlsIdentity {
  caCertPem: pulumi.Output<string>;
  certPem: pulumi.Output<string>;
  /** A secret. */
  keyPem: pulumi.Output<string>;
}

/**
 * The replication link's own CA, kept in this stack's state only, and the two certificates it
 * signs: the Redis pods' (server) and the standby leader's (client). Redis checks a client's
 * certificate against this CA alone (tls-ca-cert-file, tls-auth-clients yes), so no other
 * certificate, public CAs' included, gets through.
 */
export class ReplicationTls extends pulumi.ComponentResource {
  readonly server: TlsIdentity;
  readonly client: TlsIdentity;

  constructor(name: string, args: { stack: string }, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:k8s:ReplicationTls", name, {}, opts);
    const child = { parent: this };
    const caKey = new tls.PrivateKey("ca", KEY, child);
    const ca = new tls.SelfSignedCert(
      "ca",
      {
        privateKeyPem: caKey.privateKeyPem,
        subject: { commonName: `redis-dr ${args.stack} replication CA` },
        isCaCertificate: true,
        validityPeriodHours: VALIDITY_HOURS,
        earlyRenewalHours: EARLY_RENEWAL_HOURS,
        allowedUses: ["cert_signing", "crl_signing"],
      },
      child,
    );
    const signed = (role: "server" | "client"): TlsIdentity => {
      const key = new tls.PrivateKey(role, KEY, child);
      const request = new tls.CertRequest(role, { privateKeyPem: key.privateKeyPem, subject: { commonName: `redis-dr ${args.stack} replication ${role}` } }, child);
      const cert = new tls.LocallySignedCert(
        role,
        {
          certRequestPem: request.certRequestPem,
          caPrivateKeyPem: caKey.privateKeyPem,
          caCertPem: ca.certPem,
          validityPeriodHours: VALIDITY_HOURS,
          earlyRenewalHours: EARLY_RENEWAL_HOURS,
          allowedUses: ["digital_signature", "key_encipherment", role === "server" ? "server_auth" : "client_auth"],
        },
        child,
      );
      return { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
    };
    this.server = signed("server");
    this.client = signed("client");
    this.registerOutputs({});
  }
}
