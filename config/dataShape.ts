/**
 * The settings whose change replaces something that holds data, and the safe way to make each
 * change. The program records them in a guard resource (infra/dataShapeGuard.ts) that every
 * other resource depends on; the guard's check compares them with the inputs the last update
 * recorded, so `pulumi preview` and `pulumi up` refuse such a change before anything is
 * replaced, unless `acknowledgeReplacement` names it. Kept free of imports: the guard's
 * provider is serialized with this module.
 */
export const DATA_SHAPE = {
  region: {
    replaces: "the LKE cluster, its nodes and every Redis volume (an LKE cluster cannot move region)",
    procedure:
      "deploy a second stack in the new region with restoreFrom naming this stack's backups (docs/disaster-recovery.md, \"A lost region\"), move clients to its publicUrl, then destroy this stack",
  },
  nodeType: {
    replaces: "the cluster's node pool, every node at once and without a drain (an inline pool's type cannot change in place)",
    procedure:
      "add a pool of the new type to the cluster (Cloud Manager or linode-cli lke pool-create), drain the old nodes one at a time (kubectl drain NODE --ignore-daemonsets --delete-emptydir-data: the PodDisruptionBudgets let one Redis pod move at a time), delete the old pool, run pulumi refresh, then set nodeType with acknowledgeReplacement: [nodeType]",
  },
  namespace: {
    replaces: "the namespace, and with it every PersistentVolumeClaim of the Redis pods",
    procedure:
      "take and verify a backup (npm run ops -- backup now), then change namespace together with restoreFrom naming that backup and acknowledgeReplacement: [namespace]; the Namespace is protected, so pulumi state unprotect it first",
  },
  volumeSize: {
    replaces: "the StatefulSet (volumeClaimTemplates cannot change: every Redis pod stops at once), and the retained claims keep their old size",
    procedure:
      "to grow: patch each claim (kubectl patch pvc data-redis-N -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"SIZE\"}}}}'; linode-block-storage-retain allows expansion), delete the StatefulSet without its pods (kubectl delete statefulset redis --cascade=orphan; pulumi state unprotect it first), then set volumeSize with acknowledgeReplacement: [volumeSize]; to shrink: restore into a new stack",
  },
  storageClass: {
    replaces: "the StatefulSet (volumeClaimTemplates cannot change: every Redis pod stops at once), and the pods keep their claims of the old class",
    procedure: "restore into a new stack with the new class (restoreFrom), or move one pod at a time: delete its claim and pod, let it resync from the master, and acknowledge storageClass once all three run on the new class",
  },
  backupRegion: {
    replaces: "the backup bucket, which holds every backup and its history",
    procedure:
      "copy the bucket's objects to a bucket in the new region first (rclone copy), then set backupRegion with acknowledgeReplacement: [backupRegion]; the old bucket is protected and stays until you remove it yourself",
  },
} as const;

export type DataShapeKey = keyof typeof DATA_SHAPE;
export const DATA_SHAPE_KEYS = Object.keys(DATA_SHAPE) as DataShapeKey[];
export type DataShape = Record<DataShapeKey, string>;

/** The data shape of a stack config. */
export function dataShape(cfg: DataShape): DataShape {
  return Object.fromEntries(DATA_SHAPE_KEYS.map((key) => [key, String(cfg[key])])) as DataShape;
}

/**
 * Why an update from PREVIOUS to NEXT must not go ahead: one message per changed key that
 * ACKNOWLEDGED does not name, with what it would replace and the safe procedure. A first
 * update (no previous shape) and a key the previous update did not record change nothing.
 */
export function dataShapeRefusals(previous: Partial<DataShape> | undefined, next: DataShape, acknowledged: readonly string[]): string[] {
  if (previous === undefined) return [];
  return DATA_SHAPE_KEYS.filter((key) => previous[key] !== undefined && previous[key] !== next[key] && !acknowledged.includes(key)).map(
    (key) => `${key}: ${previous[key]} -> ${next[key]} would replace ${DATA_SHAPE[key].replaces}. Instead: ${DATA_SHAPE[key].procedure}.`,
  );
}
