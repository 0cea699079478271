import { ScenarioResult } from "./runner";

/** The drill table: one row per scenario and writer. */
export function reportTable(results: ScenarioResult[]): string {
  const lines = [
    "| scenario | client | RTO s | failed | acked | lost | failover (expected) | two-master samples | converged | verdict |",
    "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |",
  ];
  for (const r of results) {
    for (const [i, w] of r.writers.entries()) {
      const first = i === 0;
      lines.push(
        `| ${first ? r.scenario : ""} | ${w.writer} | ${Number.isNaN(w.rtoMs) ? "never" : (w.rtoMs / 1000).toFixed(2)} | ${w.failed} | ${w.acknowledged} | ${w.lost} | ${
          first ? `${r.failover ? "yes" : "no"} (${r.expectFailover === "either" ? "either" : r.expectFailover ? "yes" : "no"})` : ""
        } | ${first ? twoMasters(r) : ""} | ${first ? (r.converged ? "yes" : "no") : ""} | ${first ? (r.violations.length ? `FAIL: ${r.violations.join("; ")}` : "ok") : ""} |`,
      );
    }
  }
  return lines.join("\n");
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * For --repeat: per scenario and client, the median and the worst of the write pause (RTO),
 * failed requests and lost writes over the runs, and how many runs passed.
 */
export function repeatTable(results: ScenarioResult[]): string {
  const lines = [
    "| scenario | client | runs | RTO s median | RTO s max | failed median | failed max | lost median | lost max | runs ok |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const scenarios = [...new Set(results.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    const runs = results.filter((r) => r.scenario === scenario);
    const clients = [...new Set(runs.flatMap((r) => r.writers.map((w) => w.writer)))];
    for (const [i, client] of clients.entries()) {
      const ws = runs.flatMap((r) => r.writers.filter((w) => w.writer === client));
      const rto = ws.map((w) => (Number.isNaN(w.rtoMs) ? Number.POSITIVE_INFINITY : w.rtoMs / 1000));
      const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "never");
      lines.push(
        `| ${i === 0 ? scenario : ""} | ${client} | ${ws.length} | ${fmt(median(rto))} | ${fmt(Math.max(...rto))} | ${median(ws.map((w) => w.failed))} | ${Math.max(...ws.map((w) => w.failed))} | ${median(ws.map((w) => w.lost))} | ${Math.max(...ws.map((w) => w.lost))} | ${i === 0 ? `${runs.filter((r) => r.violations.length === 0).length}/${runs.length}` : ""} |`,
      );
    }
  }
  return lines.join("\n");
}

/** Two-master samples (100 ms apart); in parentheses, those where both masters accepted a probe write. */
function twoMasters(r: ScenarioResult): string {
  return r.twoMasterSamples > 0 ? `${r.twoMasterSamples} (${r.twoWritableMasterSamples} writable)` : "0";
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

interface Marker {
  at: number;
  label: string;
  color: string;
  dash: string;
}

/** The events worth a line on the timeline: the fault black, master changes blue, the scenario's own steps grey. */
function markers(r: ScenarioResult): Marker[] {
  return r.events
    .filter((e) => e.event !== "converged")
    .map((e) => {
      if (e.event.startsWith("fault")) return { at: e.at, label: e.event, color: "black", dash: "4,3" };
      if (e.event.startsWith("masters:")) return { at: e.at, label: e.event.replace("masters: ", "master "), color: "#1f77b4", dash: "2,2" };
      return { at: e.at, label: e.event, color: "#777", dash: "1,3" };
    });
}

/** Puts each label in the first lane where it does not overlap the previous one. */
function laneLabels(items: Array<{ x: number; label: string }>): number[] {
  const laneEnds: number[] = [];
  return items.map(({ x, label }) => {
    const width = label.length * 5.6 + 8;
    let lane = laneEnds.findIndex((end) => end < x);
    if (lane === -1) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = x + width;
    return lane;
  });
}

/**
 * A timeline per scenario: every write as a tick (green acknowledged, red failed),
 * seconds from the fault along the top, the fault, master changes and the
 * scenario's steps marked and labelled without overlap.
 */
export function timelineSvg(r: ScenarioResult): string {
  const width = 960;
  const left = 110;
  const right = 20;
  const row = 46;
  const top = 52;
  const span = Math.max(1, r.endedAt - r.startedAt);
  const x = (t: number) => left + ((t - r.startedAt) / span) * (width - left - right);
  const bottom = top + row * r.writers.length;
  const marks = markers(r).sort((a, b) => a.at - b.at);
  const lanes = laneLabels(marks.map((m) => ({ x: x(m.at), label: m.label })));
  const laneCount = Math.max(1, ...lanes.map((l) => l + 1));
  const height = bottom + 20 + laneCount * 13 + 24;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(r.scenario)}: ${escape(r.description)}</text>`,
  ];
  // Seconds from the fault, every 2 or 5 s.
  const step = span > 30_000 ? 5000 : 2000;
  for (let t = Math.ceil((r.startedAt - r.faultAt) / step) * step; r.faultAt + t <= r.endedAt; t += step) {
    const tx = x(r.faultAt + t).toFixed(1);
    parts.push(`<line x1="${tx}" x2="${tx}" y1="${top - 6}" y2="${bottom}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${tx}" y="${top - 10}" font-size="10" fill="#555" text-anchor="middle">${t / 1000}s</text>`);
  }
  r.writers.forEach((w, i) => {
    const y = top + i * row;
    parts.push(`<text x="10" y="${y + 22}">${escape(w.writer)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 6}" width="${width - left - right}" height="${row - 16}" fill="#f4f4f4" fill-opacity="0.6"/>`);
    for (const s of w.samples) {
      const color = s.ok ? "#2e8b57" : "#d62728";
      const h = s.ok ? row - 16 : row - 10;
      parts.push(`<line x1="${x(s.at).toFixed(1)}" x2="${x(s.at).toFixed(1)}" y1="${y + 6}" y2="${y + 6 + h}" stroke="${color}" stroke-width="1"/>`);
    }
  });
  marks.forEach((m, i) => {
    const mx = x(m.at).toFixed(1);
    const ly = bottom + 20 + lanes[i]! * 13;
    parts.push(`<line x1="${mx}" x2="${mx}" y1="${top}" y2="${ly - 9}" stroke="${m.color}" stroke-dasharray="${m.dash}"/>`);
    parts.push(`<text x="${mx}" y="${ly}" fill="${m.color}" font-size="10">${escape(m.label)}</text>`);
  });
  parts.push(
    `<text x="${left}" y="${height - 8}" fill="#555">seconds from the fault; green: acknowledged write, red: failed write; black: fault; blue: master change; grey: scenario step</text>`,
  );
  parts.push("</svg>");
  return parts.join("\n");
}
