import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { APP_UID } from "../k8s/appTier";
import { REPO_ROOT } from "./helpers/stackConfig";

// No Docker engine runs here, so the image is checked against what the binary really needs.
const dockerfile = fs.readFileSync(path.join(REPO_ROOT, "app/Dockerfile"), "utf8");
const binaries = ["redis-dr-app", "redis-dr-archiver"].map((name) => path.join(REPO_ROOT, "app/build", name));

function owningPackage(library: string): string {
  for (const candidate of [`/lib/x86_64-linux-gnu/${library}`, `/usr/lib/x86_64-linux-gnu/${library}`]) {
    try {
      return execFileSync("dpkg", ["-S", candidate], { encoding: "utf8" }).split(":")[0]!;
    } catch {
      /* try the other spelling of the merged /usr */
    }
  }
  throw new Error(`no Debian package owns ${library}`);
}

describe("app/Dockerfile", () => {
  it.each(binaries)("installs a Debian package for every library %s links, and copies it", (binary) => {
    expect(fs.existsSync(binary), "build app/ first: npm run app:build").toBe(true);
    expect(dockerfile).toContain(`COPY --from=build /src/build/${path.basename(binary)} /usr/local/bin/${path.basename(binary)}`);
    const needed = execFileSync("objdump", ["-p", binary], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line.trim().startsWith("NEEDED"))
      .map((line) => line.trim().split(/\s+/)[1]!);
    expect(needed).toContain("libhiredis.so.0.14");
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf("FROM "));
    for (const pkg of new Set(needed.map(owningPackage))) {
      if (pkg === "libc6") continue; // in every Debian image
      expect(runtimeStage, `runtime stage must install ${pkg}`).toMatch(new RegExp(`\\b${pkg.replace(/[.+]/g, "\\$&")}\\b`));
    }
  });

  it("builds and runs on one pinned Debian release and runs as the uid the Deployment expects", () => {
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(bases).toHaveLength(2);
    expect(new Set(bases).size).toBe(1);
    expect(bases[0]).toMatch(/^debian:\d+\.\d+-slim$/);
    expect(dockerfile).toMatch(new RegExp(`^USER ${APP_UID}:${APP_UID}$`, "m"));
    expect(dockerfile).toMatch(/-DREDISDR_TESTS=OFF/);
  });
});
