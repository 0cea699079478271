import * as linode from "@pulumi/linode";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/** Days a backup the retention deleted stays recoverable as a noncurrent object version. */
export const BACKUP_NONCURRENT_DAYS = 7;

export interface BackupStoreArgs {
  /** Region of the bucket: never the cluster's (validated in the stack config). */
  region: string;
  /** Bucket label prefix; a random suffix makes it unique (bucket names are shared by every account in a region). */
  labelPrefix: string;
  /** Days a deleted or overwritten backup object stays recoverable as a noncurrent version. */
  noncurrentDays: number;
  /** A bucket of an earlier deployment this one seeds from: the key may read it. */
  restoreFrom?: { bucket: string; region: string };
}

/** How the cluster reaches the backups: the bucket and a key limited to it. */
export interface BackupStoreAccess {
  bucket: pulumi.Output<string>;
  region: string;
  /** https:// S3 endpoint of the bucket's region. */
  endpoint: pulumi.Output<string>;
  accessKeyId: pulumi.Output<string>;
  secretAccessKey: pulumi.Output<string>;
}

/**
 * Object Storage for the backups, in another region than the cluster: a versioned bucket
 * and an access key that can reach only that bucket (and, read-only, a bucket to restore from).
 *
 * Lifecycle: objects the backup job deletes (retention) or overwrites stay as noncurrent
 * versions for `noncurrentDays`, so a bad prune or a leaked key that deletes backups can be
 * undone; expired delete markers and abandoned multipart uploads are cleaned up. There is
 * deliberately no expiry of current objects: if backups stop, the last good ones must not age
 * out; the job's own retention (newest verified per hour and per day) decides what goes.
 * Versioning and lifecycle rules are set through the S3 API, which the provider reaches
 * with temporary keys (objUseTempKeys), so no long-lived admin key exists.
 */
export class BackupStore extends pulumi.ComponentResource {
  readonly bucket: linode.ObjectStorageBucket;
  readonly key: linode.ObjectStorageKey;
  readonly access: BackupStoreAccess;

  constructor(name: string, args: BackupStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:infra:BackupStore", name, {}, opts);
    const child = { parent: this };
    const objects = new linode.Provider("objects", { objUseTempKeys: true }, child);
    const suffix = new random.RandomId("backup-bucket-suffix", { byteLength: 3 }, child);

    this.bucket = new linode.ObjectStorageBucket(
      "backups",
      {
        region: args.region,
        label: pulumi.interpolate`${args.labelPrefix}-${suffix.hex}`,
        acl: "private",
        versioning: true,
        lifecycleRules: [
          {
            id: "keep-deleted-backups",
            enabled: true,
            noncurrentVersionExpiration: { days: args.noncurrentDays },
            abortIncompleteMultipartUploadDays: 1,
          },
          { id: "drop-expired-delete-markers", enabled: true, expiration: { expiredObjectDeleteMarker: true } },
        ],
      },
      // The backups outlive the stack: `pulumi destroy` must not take them.
      { parent: this, provider: objects, protect: true },
    );

    this.key = new linode.ObjectStorageKey(
      "backup-writer",
      {
        label: pulumi.interpolate`${this.bucket.label}-writer`,
        bucketAccesses: [
          { bucketName: this.bucket.label, region: args.region, permissions: "read_write" },
          ...(args.restoreFrom ? [{ bucketName: args.restoreFrom.bucket, region: args.restoreFrom.region, permissions: "read_only" }] : []),
        ],
      },
      child,
    );

    this.access = {
      bucket: this.bucket.label,
      region: args.region,
      endpoint: this.bucket.s3Endpoint.apply((host) => (host.startsWith("http") ? host : `https://${host}`)),
      accessKeyId: pulumi.secret(this.key.accessKey),
      secretAccessKey: pulumi.secret(this.key.secretKey),
    };
    this.registerOutputs({ bucket: this.bucket.label });
  }
}
