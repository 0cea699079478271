/**
 * The master a strict majority of all Sentinels names, or undefined: the one rule, in every
 * TypeScript caller, that k8s/redis/scripts/lib.sh (sentinel_majority_master) applies in the
 * pods. A majority of all Sentinels, not of those that answered, and never a plurality: two
 * of three naming different masters is no answer.
 */
export function majorityMaster(votes: ReadonlyArray<string | undefined>, sentinels: number = votes.length): string | undefined {
  const counts = new Map<string, number>();
  for (const vote of votes) if (vote !== undefined) counts.set(vote, (counts.get(vote) ?? 0) + 1);
  for (const [master, count] of counts) if (count > sentinels / 2) return master;
  return undefined;
}
