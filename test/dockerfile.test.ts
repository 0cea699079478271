import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { APP_UID } from "../k8s/appTier";
import { REPO_ROOT } from "./helpers/stackConfig";

// No Docker engine runs here, so the image is checked against what the binary really needs.
const dockerfile = fs.readFileSync(path.join(REPO_ROOT, "app/Dockerfile"), "utf8");
/** Each stage by name (FROM ... AS name), with its instructions (no comments). */
const stages = new Map(
  dockerfile
    .replace(/^#.*\n/gm, "")
    .split(/^(?=FROM )/m)
    .filter((text) => text.startsWith("FROM "))
    .map((text): [string, string] => [/^FROM \S+ AS (\S+)/.exec(text)?.[1] ?? "", text]),
);
const stage = (name: string) => stages.get(name) ?? "";
/** Each binary and the image (stage) that ships it. */
const binaries = [
  ["redis-dr-app", "app"],
  ["redis-dr-relay", "app"],
  ["redis-dr-archiver", "archiver"],
  ["redis-dr-uploader", "archiver"],
].map(([name, target]) => ({ binary: path.join(REPO_ROOT, "app/build", name!), target: target! }));

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
  it.each(binaries)("installs a Debian package for every library $binary links (in the shared runtime stage or its own), and copies it into the $target image", ({ binary, target }) => {
    expect(fs.existsSync(binary), "build app/ first: npm run app:build").toBe(true);
    expect(stage(target)).toMatch(/^FROM runtime AS/);
    expect(stage(target)).toContain(`COPY --from=build /src/build/${path.basename(binary)} /usr/local/bin/${path.basename(binary)}`);
    expect(stage(target)).toMatch(new RegExp(`^USER ${APP_UID}:${APP_UID}$`, "m"));
    const needed = execFileSync("objdump", ["-p", binary], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line.trim().startsWith("NEEDED"))
      .map((line) => line.trim().split(/\s+/)[1]!);
    expect(needed.filter((library) => library.startsWith("libhiredis")), "hiredis is linked in statically").toEqual([]);
    for (const pkg of new Set(needed.map(owningPackage))) {
      if (pkg === "libc6") continue; // in every Debian image
      expect(stage("runtime") + stage(target), `the runtime or ${target} stage must install ${pkg}`).toMatch(new RegExp(`\\b${pkg.replace(/[.+]/g, "\\$&")}\\b`));
    }
  });

  it("builds an archiver that needs nothing but glibc, no newer than the Redis image's, so the copy in the Redis image runs", () => {
    const archiver = binaries.find((b) => b.target === "archiver")!.binary;
    const needed = execFileSync("objdump", ["-p", archiver], { encoding: "utf8" }).split("\n").filter((line) => line.trim().startsWith("NEEDED")).map((line) => line.trim().split(/\s+/)[1]!);
    expect(new Set(needed.map(owningPackage))).toEqual(new Set(["libc6"]));
    // redis:7.4.x-bookworm is Debian 12, glibc 2.36, as the build stage.
    const versions = [...execFileSync("objdump", ["-T", archiver], { encoding: "utf8" }).matchAll(/GLIBC_2\.(\d+)/g)].map((m) => Number(m[1]));
    expect(Math.max(...versions)).toBeLessThanOrEqual(36);
  });

  it("gives libcurl, which the archive's uploader links, to the archiver image only, and builds the app by default", () => {
    expect(stage("archiver")).toMatch(/apt-get install -y --no-install-recommends libcurl4\b/);
    expect(stage("app")).not.toMatch(/curl|redis-dr-archiver|redis-dr-uploader/);
    expect(stage("runtime")).not.toMatch(/curl/);
    expect([...stages.keys()].at(-1)).toBe("app");
  });

  it("builds and runs on one pinned Debian release and runs as the uid the Deployment expects", () => {
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!).filter((base) => !stages.has(base));
    expect(bases).toHaveLength(2);
    expect(new Set(bases).size).toBe(1);
    expect(bases[0]).toMatch(/^debian:\d+\.\d+-slim$/);
    expect(dockerfile).toMatch(/-DREDISDR_TESTS=OFF/);
  });
});
