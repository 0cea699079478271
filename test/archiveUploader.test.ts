import { ChildProcessWithoutNullStreams, execFile, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as http from "http";
import * as https from "https";
import { AddressInfo } from "net";
import { createInterface } from "readline";
import * as aws4 from "aws4";
import { promisify } from "util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ARCHIVE_PREFIX } from "../k8s/backup/settings";
import { UPLOADER_BINARY } from "../local/backup/job";
import { LocalObjectStore, objectStoreEnvironment } from "../local/backup/objectStore";

// redis-dr-uploader, the shipper's coprocess, against s3rver: what it stores, in what order,
// what it answers when it cannot, and that one process outlives a store that goes away and
// comes back. s3rver checks the access key but not a SigV4 signature ("Signature version 4
// calculation is unimplemented", s3rver lib/middleware/authentication.js), which Linode's
// Object Storage does: the signature is checked here against aws4's, computed on its own.

let dir: string;
let store: LocalObjectStore;
let uploaders: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-uploader-"));
  store = new LocalObjectStore(path.join(dir, "objects"), "redis-dr-test-uploads", 19951);
  await store.start();
});

afterEach(() => {
  for (const child of uploaders) child.stdin.end();
  uploaders = [];
});

afterAll(async () => {
  await store.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A file in the spool, and the line that has the uploader store it as NAME under the prefix. */
function spoolFile(name: string, content: string): string {
  const file = path.join(dir, "spool dir", path.basename(name));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return `${createHash("sha256").update(content).digest("hex")} ${name} ${file}`;
}

/** The uploader with the store's settings (and any changed), and a way to send it one batch. */
function uploader(overrides: Record<string, string> = {}) {
  const env = { PATH: process.env.PATH!, ...objectStoreEnvironment(store.access), ARCHIVE_PREFIX, ...overrides };
  const child = spawn(UPLOADER_BINARY, [], { env, stdio: ["pipe", "pipe", "pipe"] });
  uploaders.push(child);
  const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return async (lines: string[]): Promise<string> => {
    child.stdin.write([...lines, ""].map((l) => `${l}\n`).join(""));
    const reply = await replies.next();
    return reply.done ? "(exited)" : reply.value;
  };
}

/** An object's bytes, read back with rclone, or undefined when the store has none (rclone cat of a missing name prints nothing and succeeds). */
async function stored(name: string): Promise<string | undefined> {
  const env = { PATH: process.env.PATH!, RCLONE_CONFIG: "/dev/null", ...objectStoreEnvironment(store.access) };
  const rclone = (...args: string[]) => promisify(execFile)("rclone", ["-q", ...args], { env, encoding: "utf8" }).then((r) => r.stdout);
  const names = (await rclone("lsf", "-R", "--files-only", `store:${store.bucket}/${ARCHIVE_PREFIX}`).catch(() => "")).split("\n");
  return names.includes(name) ? rclone("cat", `store:${store.bucket}/${ARCHIVE_PREFIX}/${name}`) : undefined;
}

describe("redis-dr-uploader", () => {
  it("stores each file of a batch under its name below the archive's prefix and answers ok with the count", async () => {
    const send = uploader();
    expect(await send([spoolFile("2026-12-07T18/a.resp", "*1\r\n$4\r\nPING\r\n"), spoolFile("2026-12-07T18/a.json", '{"endOffset":14}\n')])).toBe("ok 2");
    expect(await stored("2026-12-07T18/a.resp")).toBe("*1\r\n$4\r\nPING\r\n");
    expect(await stored("2026-12-07T18/a.json")).toBe('{"endOffset":14}\n');
    // The same process takes the next batch.
    expect(await send([spoolFile("b.resp", "more")])).toBe("ok 1");
    expect(await stored("b.resp")).toBe("more");
  });

  it("signs each PUT with SigV4 over the file's sha256, as an independent signer computes it, on one connection", async () => {
    const requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer; socket: unknown }[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks), socket: req.socket });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const send = uploader({ RCLONE_CONFIG_STORE_ENDPOINT: endpoint, RCLONE_CONFIG_STORE_REGION: "eu-central" });
      // The third is over the 1 MB past which libcurl sends "Expect: 100-continue" (never signed).
      const large = "x".repeat(1_200_000);
      expect(await send([spoolFile("g.resp", "*1\r\n$4\r\nPING\r\n"), spoolFile("g.json", "{}\n"), spoolFile("h.resp", large)])).toBe("ok 3");
      expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual(["g.resp", "g.json", "h.resp"].map((name) => `PUT /${store.bucket}/${ARCHIVE_PREFIX}/${name}`));
      expect(requests[2]!.body.toString()).toBe(large);
      expect(new Set(requests.map((r) => r.socket)).size).toBe(1);
      for (const request of requests) {
        expect(request.headers["x-amz-content-sha256"]).toBe(createHash("sha256").update(request.body).digest("hex"));
        const authorization = String(request.headers.authorization);
        const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)![1]!.split(";");
        expect(signedHeaders).toEqual(expect.arrayContaining(["host", "x-amz-content-sha256", "x-amz-date"]));
        const expected = aws4.sign(
          {
            host: request.headers.host,
            path: request.url,
            method: request.method,
            service: "s3",
            region: "eu-central",
            headers: Object.fromEntries(signedHeaders.filter((h) => h !== "host").map((h) => [h, String(request.headers[h])])),
          },
          { accessKeyId: store.access.accessKeyId, secretAccessKey: store.access.secretAccessKey },
        );
        expect(authorization).toBe(expected.headers!.Authorization);
      }
    } finally {
      server.close();
    }
  });

  it("verifies the store's TLS certificate against CURL_CA_BUNDLE, and refuses one it does not sign", async () => {
    // A CA and a certificate for 127.0.0.1 signed by it, as a private store's would be.
    const tls = path.join(dir, "tls");
    fs.mkdirSync(tls, { recursive: true });
    const openssl = (...args: string[]) => promisify(execFile)("openssl", args, { cwd: tls });
    await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=redis-dr test CA", "-keyout", "ca.key", "-out", "ca.crt");
    await openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "store.key", "-out", "store.csr");
    fs.writeFileSync(path.join(tls, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
    await openssl("x509", "-req", "-in", "store.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "store.crt");
    const server = https.createServer({ key: fs.readFileSync(path.join(tls, "store.key")), cert: fs.readFileSync(path.join(tls, "store.crt")) }, (req, res) => {
      req.resume();
      req.on("end", () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect(await uploader({ RCLONE_CONFIG_STORE_ENDPOINT: endpoint, CURL_CA_BUNDLE: path.join(tls, "ca.crt") })([spoolFile("t.resp", "over TLS")])).toBe("ok 1");
      // The system's bundle does not hold this CA: the certificate is refused, and nothing is sent.
      expect(await uploader({ RCLONE_CONFIG_STORE_ENDPOINT: endpoint })([spoolFile("t.resp", "over TLS")])).toMatch(/^failed .*certificate/i);
    } finally {
      server.close();
    }
  }, 60_000);

  it("stops a batch at the first file the store refuses, so nothing after it is stored", async () => {
    const send = uploader({ RCLONE_CONFIG_STORE_ACCESS_KEY_ID: "not-the-key" });
    const reply = await send([spoolFile("c.resp", "data"), spoolFile("c.json", "manifest")]);
    expect(reply).toMatch(/^failed .*\/c\.resp: HTTP 403/);
    expect(await stored("c.resp")).toBeUndefined();
    expect(await stored("c.json")).toBeUndefined();
  });

  it("stops at a file it cannot read and at a line that is not a checksum and a path", async () => {
    const send = uploader();
    const missing = `${"0".repeat(64)} missing.resp ${path.join(dir, "missing.resp")}`;
    expect(await send([missing, spoolFile("d.json", "after the missing one")])).toMatch(/^failed cannot read .*missing\.resp$/);
    expect(await stored("d.json")).toBeUndefined();
    expect(await send(["not a checksum line"])).toBe('failed not a "SHA256 NAME PATH" line: not a checksum line');
    // A name may not climb out of the prefix.
    const climbing = spoolFile("../outside.resp", "x");
    expect(await send([climbing])).toBe(`failed not a "SHA256 NAME PATH" line: ${climbing}`);
  });

  it("fails while the store is down and stores again, in the same process, once it is back", async () => {
    const send = uploader();
    expect(await send([spoolFile("e.resp", "before")])).toBe("ok 1");
    await store.stop();
    try {
      expect(await send([spoolFile("f.resp", "while down")])).toMatch(/^failed .*\/f\.resp: .*(refused|connect)/i);
    } finally {
      await store.start();
    }
    expect(await send([spoolFile("f.resp", "while down")])).toBe("ok 1");
    expect(await stored("f.resp")).toBe("while down");
  }, 30_000);

  it("refuses to start without the store's settings, naming each that is missing", async () => {
    const result = await promisify(execFile)(UPLOADER_BINARY, [], { env: { PATH: process.env.PATH! } }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(2);
    for (const name of ["RCLONE_CONFIG_STORE_ENDPOINT", "RCLONE_CONFIG_STORE_ACCESS_KEY_ID", "RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY", "RCLONE_CONFIG_STORE_REGION", "BACKUP_BUCKET"]) {
      expect(result.stderr).toContain(`${name} is required`);
    }
  });
});
