import { describe, expect, it } from "vitest";
import { majorityMaster } from "../probe/agreement";

describe("majorityMaster: the master a strict majority of all Sentinels names", () => {
  it.each([
    [["10.0.0.1", "10.0.0.1", "10.0.0.2"], 3, "10.0.0.1"],
    [["10.0.0.1", "10.0.0.1", undefined], 3, "10.0.0.1"],
    // A plurality is no answer: one vote each, or one of three answering.
    [["10.0.0.1", "10.0.0.2", undefined], 3, undefined],
    [["10.0.0.1", undefined, undefined], 3, undefined],
    // The majority is of all Sentinels, not of those that answered.
    [["10.0.0.1", "10.0.0.1"], 5, undefined],
    [["10.0.0.1", "10.0.0.1", "10.0.0.1"], 5, "10.0.0.1"],
    [[], 3, undefined],
  ] as const)("%j of %i -> %s", (votes, sentinels, expected) => {
    expect(majorityMaster(votes, sentinels)).toBe(expected);
  });
});
