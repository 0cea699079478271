import { ScenarioResult } from "./runner";

const s = (ms: number) => (ms / 1000).toFixed(2);

/** Disasters no failover survives: recovery comes from the backups in the other region. */
export const DISASTERS = {
  "region-loss": "the whole topology, its volumes and its archiver are destroyed; a new one is seeded from the newest verified backup and the continuous archive",
  "bad-write": "FLUSHALL on the master mid-run; the newest verified backup is restored into the live master",
  "bad-write-undo": "FLUSHALL on the master mid-run while writes go on; backup log finds it in the continuous archive and backup undo takes it back in the live master",
  "archive-failover": "the master's redis is killed while archiving and Sentinel fails over; then the region is lost and a new one is restored to a time after the failover, from a backup taken before it and the archive across it",
} as const;
export type DisasterName = keyof typeof DISASTERS;

/** Recovery figures of a disaster drill, beside the usual scenario result (writes, events, timeline). */
export interface DisasterResult extends ScenarioResult {
  disaster: DisasterName;
  backupIntervalSeconds: number;
  /** The continuous archive's interval when the recovery replayed it (archiveIntervalMs). */
  archiveIntervalMs?: number;
  /** The bad write was undone in place: every acknowledged write, before and after it, must stay. */
  undone?: boolean;
  /**
   * The recovery restored the state at a chosen time (ms): writes acknowledged up to it count
   * as lost when missing, and those acknowledged more than a second after it must be absent.
   */
  restoredTo?: { atMs: number; writesFromAfter: number };
  /** The backup the recovery used, and how old it was when the disaster was declared. */
  backupUsed: string;
  backupAgeMs: number;
  /** Declared -> first acknowledged write after recovery, and its parts. */
  rtoMs: number;
  parts: Record<string, number>;
  /** Acknowledged writes the recovered data lacks, and the span of time they cover. */
  lostWrites: number;
  lostWindowMs: number;
  keysRestored: number;
}

/** A backup id is its UTC start time: 20261125T230000Z. */
export function idTime(id: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(id);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : Number.NaN;
}

/** A backup the drill's schedule took: its id, when its run started and when it was verified. */
export interface VerifiedBackup {
  id: string;
  startedAt: number;
  at: number;
}

/**
 * What a disaster drill must show: the newest verified backup was used, only writes newer than
 * it were lost, no more of them than the RPO docs/disaster-recovery.md states (with the
 * continuous archive, archiveIntervalMs; without it one backup interval plus the time a run
 * takes: a backup counts only once it is verified, so the one being taken at the disaster does
 * not count yet), and service came back.
 */
export function disasterViolations(r: DisasterResult, backups: VerifiedBackup[]): string[] {
  const violations: string[] = [];
  const newestVerified = backups.filter((b) => b.at <= r.faultAt).at(-1)?.id;
  // A run under way at the disaster may verify just after it (the store is in the other region
  // and the verify loads it into a scratch server, no pod needed): the restore may take that one.
  const finishedAfter = backups.filter((b) => b.startedAt <= r.faultAt && b.at > r.faultAt).map((b) => b.id);
  if (r.backupUsed !== newestVerified && !finishedAfter.includes(r.backupUsed)) {
    violations.push(`restored ${r.backupUsed}, not the newest verified backup ${newestVerified}`);
  }
  const writes = r.writers[0]!;
  const lostBeforeBackup = writes.samples.filter((s) => s.ok && writes.lostSeqs.includes(s.seq) && s.at < idTime(r.backupUsed));
  if (lostBeforeBackup.length > 0) violations.push(`${lostBeforeBackup.length} acknowledged writes older than the backup are missing`);
  if (r.undone && writes.lost > 0) violations.push(`the undo lost ${writes.lost} acknowledged writes; it must keep every one`);
  if (r.restoredTo && r.restoredTo.writesFromAfter > 0) {
    violations.push(`${r.restoredTo.writesFromAfter} acknowledged writes from more than 1 s after the chosen time were restored`);
  }
  const rpoMs = r.archiveIntervalMs ?? r.backupIntervalSeconds * 1000 + Math.max(0, ...backups.map((b) => b.at - b.startedAt));
  if (r.lostWindowMs > rpoMs) {
    const bound = r.archiveIntervalMs ? "archiveIntervalMs" : "the backup interval plus the longest run";
    violations.push(`lost ${(r.lostWindowMs / 1000).toFixed(2)} s of acknowledged writes, more than ${bound} (${(rpoMs / 1000).toFixed(2)} s)`);
  }
  if (Number.isNaN(writes.rtoMs)) violations.push("writes had not recovered by the end");
  if (r.keysRestored === 0) violations.push("nothing was restored");
  return violations;
}

/** The recovery table: RTO and its parts, RPO as writes and as time, the backup used and its age. */
export function disasterTable(results: DisasterResult[]): string {
  const lines = [
    "| disaster | backup every s | archive every s | backup age at disaster s | keys restored | RTO s | parts s | acked writes lost | lost window s | verdict |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |",
  ];
  for (const r of results) {
    const parts = Object.entries(r.parts).map(([k, v]) => `${k} ${s(v)}`).join(", ");
    lines.push(
      `| ${r.disaster} | ${r.backupIntervalSeconds} | ${r.archiveIntervalMs ? s(r.archiveIntervalMs) : "-"} | ${s(r.backupAgeMs)} | ${r.keysRestored} | ${s(r.rtoMs)} | ${parts} | ${r.lostWrites} | ${s(r.lostWindowMs)} | ${r.violations.length ? r.violations.join("; ") : "ok"} |`,
    );
  }
  return lines.join("\n");
}
