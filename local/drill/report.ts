import { ScenarioResult } from "./runner";

/** The drill table: one row per scenario and writer. */
export function reportTable(results: ScenarioResult[]): string {
  const lines = [
    "| scenario | client | RTO s | failed | acked | lost | failover (expected) | two-master samples | converged | verdict |",
    "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |",
  ];
  for (const r of results) {
    if (r.skipped) {
      lines.push(`| ${r.scenario} | | | | | | | | | skipped: ${r.skipped} |`);
      continue;
    }
    for (const [i, w] of r.writers.entries()) {
      const first = i === 0;
      lines.push(
        `| ${first ? r.scenario : ""} | ${w.writer} | ${Number.isNaN(w.rtoMs) ? "never" : (w.rtoMs / 1000).toFixed(2)} | ${w.failed} | ${w.acknowledged} | ${w.lost} | ${
          first ? `${r.failover ? "yes" : "no"} (${r.expectFailover ? "yes" : "no"})` : ""
        } | ${first ? twoMasters(r) : ""} | ${first ? (r.converged ? "yes" : "no") : ""} | ${first ? (r.violations.length ? `FAIL: ${r.violations.join("; ")}` : "ok") : ""} |`,
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

/** A timeline per scenario: every write as a tick (green ok, red failed), fault and master changes marked. */
export function timelineSvg(r: ScenarioResult): string {
  const width = 960;
  const left = 110;
  const row = 46;
  const top = 40;
  const height = top + row * r.writers.length + 60;
  const span = Math.max(1, r.endedAt - r.startedAt);
  const x = (t: number) => left + ((t - r.startedAt) / span) * (width - left - 20);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(r.scenario)}: ${escape(r.description)}</text>`,
  ];
  r.writers.forEach((w, i) => {
    const y = top + i * row;
    parts.push(`<text x="10" y="${y + 22}">${escape(w.writer)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 6}" width="${width - left - 20}" height="${row - 16}" fill="#f4f4f4"/>`);
    for (const s of w.samples) {
      const color = s.ok ? "#2e8b57" : "#d62728";
      const h = s.ok ? row - 16 : row - 10;
      parts.push(`<line x1="${x(s.at).toFixed(1)}" x2="${x(s.at).toFixed(1)}" y1="${y + 6}" y2="${y + 6 + h}" stroke="${color}" stroke-width="1"/>`);
    }
  });
  const bottom = top + row * r.writers.length;
  for (const e of r.events) {
    const isFault = e.event.startsWith("fault");
    const isMaster = e.event.startsWith("masters:");
    if (!isFault && !isMaster) continue;
    const color = isFault ? "black" : "#1f77b4";
    parts.push(`<line x1="${x(e.at).toFixed(1)}" x2="${x(e.at).toFixed(1)}" y1="${top}" y2="${bottom + 8}" stroke="${color}" stroke-dasharray="${isFault ? "4,3" : "2,2"}"/>`);
    parts.push(`<text x="${x(e.at).toFixed(1)}" y="${bottom + 22 + (isFault ? 0 : 14)}" fill="${color}" font-size="10">${escape(e.event.replace("masters: ", "master "))}</text>`);
  }
  parts.push(`<text x="${left}" y="${height - 6}" fill="#555">${((span) / 1000).toFixed(1)} s shown; green: acknowledged write, red: failed write; dashed black: fault; blue: master change</text>`);
  parts.push("</svg>");
  return parts.join("\n");
}
