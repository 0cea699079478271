import { describe, expect, it } from "vitest";
import { repeatTable, reportTable, timelineSvg } from "../local/drill/report";
import { ScenarioResult } from "../local/drill/runner";

// The drill report without processes: a hand-made result whose timeline must show what happened.
const T0 = 1_000_000;
const samples = Array.from({ length: 50 }, (_, i) => ({ at: T0 + i * 100, seq: i + 1, ok: !(i >= 20 && i < 27) }));
const result: ScenarioResult = {
  scenario: "kill-master-redis",
  description: "SIGKILL <the> master's redis-server",
  startedAt: T0,
  faultAt: T0 + 2000,
  endedAt: T0 + 5000,
  masterBefore: "10.231.0.10",
  masterAfter: "10.231.0.11",
  failover: true,
  expectFailover: true,
  twoMasterSamples: 0,
  twoWritableMasterSamples: 0,
  converged: true,
  writers: [{ writer: "redis-dr-app", rtoMs: 800, acknowledged: 43, failed: 7, lost: 0, lostSeqs: [], samples }],
  events: [
    { at: T0 + 2000, event: "fault: SIGKILL redis on redis-0" },
    { at: T0 + 2700, event: "masters: 10.231.0.11" },
    { at: T0 + 4000, event: "converged" },
  ],
  violations: [],
};

const lines = (svg: string, stroke: string) => [...svg.matchAll(new RegExp(`<line x1="([\\d.]+)"[^>]*stroke="${stroke}"`, "g"))].map((m) => Number(m[1]));

describe("drill timeline", () => {
  const svg = timelineSvg(result);
  const left = 110;
  const xOf = (t: number) => left + ((t - result.startedAt) / (result.endedAt - result.startedAt)) * (960 - left - 20);

  it("draws one red tick per failed write and one green tick per acknowledged one, each at its time", () => {
    expect(lines(svg, "#d62728")).toEqual(samples.filter((s) => !s.ok).map((s) => Number(xOf(s.at).toFixed(1))));
    expect(lines(svg, "#2e8b57")).toHaveLength(43);
  });

  it("marks the fault in black and the master change in blue, at their times, with labels", () => {
    expect(lines(svg, "black")).toEqual([Number(xOf(result.faultAt).toFixed(1))]);
    expect(lines(svg, "#1f77b4")).toEqual([Number(xOf(T0 + 2700).toFixed(1))]);
    expect(svg).toContain(">master 10.231.0.11</text>");
    expect(svg).not.toContain("converged</text>");
  });

  it("labels seconds from the fault and escapes text", () => {
    expect(svg).toMatch(/>-2s<\/text>/);
    expect(svg).toMatch(/>0s<\/text>/);
    expect(svg).toContain("SIGKILL &lt;the&gt; master");
  });

  it("puts the same numbers in the table", () => {
    expect(reportTable([result])).toMatch(/\| kill-master-redis \| redis-dr-app \| 0\.80 \| 7 \| 43 \| 0 \| yes \(yes\) \| 0 \| yes \| ok \|/);
  });
});

describe("drill --repeat summary", () => {
  it("gives per client the median and the worst over the runs, and how many runs passed", () => {
    const run = (rtoMs: number, failed: number, lost: number, violations: string[] = []): ScenarioResult => ({
      ...result,
      scenario: "manual-failover",
      violations,
      writers: [
        { ...result.writers[0]!, rtoMs, failed, lost },
        { ...result.writers[0]!, writer: "ioredis", rtoMs: rtoMs + 500, failed: failed + 1, lost: 0 },
      ],
    });
    const table = repeatTable([run(1000, 0, 0), run(3000, 2, 0), run(Number.NaN, 1, 4, ["4 acknowledged writes lost"])]);
    expect(table.split("\n").slice(2)).toEqual([
      "| manual-failover | redis-dr-app | 3 | 3.00 | never | 1 | 2 | 0 | 4 | 2/3 |",
      "|  | ioredis | 3 | 3.50 | never | 2 | 3 | 0 | 0 |  |",
    ]);
  });
});
