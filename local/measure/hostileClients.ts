import * as fs from "fs";
import * as http from "http";
import * as net from "net";

/**
 * What a hostile client can do to the service's public port, measured: each probe runs against
 * a live instance while its liveness probe (/healthz on the probe listener) is polled, and
 * reports the answer the attacker got, the process's peak RSS, and the slowest liveness answer.
 */
export interface HostileResult {
  probe: string;
  answer: string;
  peakRssMiB: number;
  livenessMaxMs: number;
  livenessFailures: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Peak resident memory of a process so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"));
  return line ? Number(/(\d+)/.exec(line)![1]) / 1024 : NaN;
}

/** One GET on a new connection, as the kubelet probes: true on a 2xx within the timeout. */
function probeOnce(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

/** Polls GET /healthz every 100 ms (2 s timeout, as the kubelet's probe) until stopped. */
function watchLiveness(probeUrl: string) {
  let running = true;
  let maxMs = 0;
  let failures = 0;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      const ok = await probeOnce(`${probeUrl}/healthz`, 2000);
      maxMs = Math.max(maxMs, Date.now() - started);
      if (!ok) failures++;
      await sleep(100);
    }
  })();
  return async () => {
    running = false;
    await loop;
    return { maxMs, failures };
  };
}

/** The service instance under test: its public URL, host and port, probe listener and process. */
export interface AppInstance {
  url: string;
  host: string;
  port: number;
  probeUrl: string;
  pid: number;
}

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** The status line the server answered (or how the connection ended). */
function answerOf(socket: net.Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    let data = "";
    const done = (why: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(data ? data.split("\r\n")[0]! : "no answer"), timeoutMs);
    socket.on("data", (d) => {
      data += d.toString("latin1");
      if (data.includes("\r\n")) done(data.split("\r\n")[0]!);
    });
    socket.on("error", () => done(data ? data.split("\r\n")[0]! : "connection reset"));
    socket.on("close", () => done(data ? data.split("\r\n")[0]! : "connection closed"));
  });
}

/** Writes as much of a chunked body as the server takes, up to `bytes`. */
async function sendChunked(socket: net.Socket, bytes: number): Promise<number> {
  const chunk = Buffer.concat([Buffer.from("10000\r\n"), Buffer.alloc(0x10000, 0x78), Buffer.from("\r\n")]);
  let sent = 0;
  while (sent < bytes && !socket.destroyed) {
    const drained = socket.write(chunk);
    sent += 0x10000;
    if (!drained) {
      const more = await Promise.race([new Promise<boolean>((r) => socket.once("drain", () => r(true))), sleep(2000).then(() => false)]);
      if (!more) break; // the server stopped reading
    }
  }
  return sent;
}

// The NodeBalancer's view during an attack: does the public /readyz answer, and how fast.
async function publicReadyz(url: string): Promise<string> {
  const started = performance.now();
  return fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
    (r) => `public /readyz ${r.status} in ${Math.round(performance.now() - started)} ms`,
    () => "public /readyz timed out (2 s)",
  );
}

export async function runHostileClients(app: AppInstance, apiToken: string): Promise<HostileResult[]> {
  const { pid, host, port } = app;
  const auth = `Authorization: Bearer ${apiToken}\r\n`;
  const results: HostileResult[] = [];
  const probe = async (name: string, attack: () => Promise<string>) => {
    const stopWatching = watchLiveness(app.probeUrl);
    const answer = await attack();
    const liveness = await stopWatching();
    results.push({ probe: name, answer, peakRssMiB: peakRssMiB(pid), livenessMaxMs: liveness.maxMs, livenessFailures: liveness.failures });
  };

  await probe("PUT with a 300 MiB chunked body", async () => {
    const socket = await connect(host, port);
    socket.write(`PUT /kv/hostile HTTP/1.1\r\nHost: b\r\n${auth}Transfer-Encoding: chunked\r\n\r\n`);
    const answer = answerOf(socket, 15_000);
    const sent = await sendChunked(socket, 300 << 20);
    return `${await answer} (server took ${(sent / (1 << 20)).toFixed(0)} MiB)`;
  });

  await probe("PUT with Content-Length 10 GB", async () => {
    const socket = await connect(host, port);
    socket.write(`PUT /kv/hostile HTTP/1.1\r\nHost: b\r\n${auth}Content-Length: 10000000000\r\n\r\n`);
    return answerOf(socket, 5000);
  });

  await probe("no credentials", async () => {
    const socket = await connect(host, port);
    socket.write("PUT /kv/hostile HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\n\r\nx");
    return answerOf(socket, 5000);
  });

  await probe("80 connections trickling a header line a second for 12 s", async () => {
    const sockets = await Promise.all(Array.from({ length: 80 }, () => connect(host, port).catch(() => undefined)));
    const open = sockets.filter((s): s is net.Socket => s !== undefined);
    const told408 = new Set<net.Socket>();
    for (const s of open) {
      s.on("error", () => undefined);
      s.on("data", (d: Buffer) => d.toString("latin1").startsWith("HTTP/1.1 408") && told408.add(s));
      s.write("GET /kv/slow HTTP/1.1\r\n");
    }
    let publicReady = "";
    for (let i = 0; i < 12; i++) {
      await sleep(1000);
      if (i === 4) publicReady = await publicReadyz(app.url);
      for (const s of open) if (!s.destroyed && s.writable) s.write(`X-Slow-${i}: ${"y".repeat(16)}\r\n`);
    }
    const stillOpen = open.filter((s) => !s.destroyed && !s.readableEnded).length;
    for (const s of open) s.destroy();
    return `${told408.size} of ${open.length} told 408 and closed at the read deadline, ${stillOpen} still open after 12 s; during: ${publicReady}`;
  });

  await probe("1000 idle connections", async () => {
    const sockets = await Promise.all(Array.from({ length: 1000 }, () => connect(host, port).catch(() => undefined)));
    const open = sockets.filter((s): s is net.Socket => s !== undefined);
    for (const s of open) s.on("error", () => undefined);
    await sleep(3000);
    const publicReady = await publicReadyz(app.url);
    for (const s of open) s.destroy();
    return `${open.length} accepted; ${publicReady}`;
  });

  await probe("100 header lines of 8 KiB on GET /kv/missing (a 404 means all were taken)", async () => {
    const socket = await connect(host, port);
    socket.on("error", () => undefined);
    const headers = Array.from({ length: 100 }, (_, i) => `X-Big-${i}: ${"z".repeat(8000)}\r\n`).join("");
    socket.write(`GET /kv/missing HTTP/1.1\r\nHost: b\r\n${auth}${headers}\r\n`);
    return answerOf(socket, 5000);
  });

  await probe("a 100 KiB URL", async () => {
    const socket = await connect(host, port);
    socket.on("error", () => undefined);
    socket.write(`GET /kv/${"u".repeat(100 * 1024)} HTTP/1.1\r\nHost: b\r\n${auth}\r\n`);
    return answerOf(socket, 5000);
  });

  await probe("garbage bytes", async () => {
    const socket = await connect(host, port);
    socket.write("\x00\x01\x02 NOT HTTP \xff\xfe\r\n\r\n");
    return answerOf(socket, 5000);
  });
  return results;
}

export function hostileTable(results: HostileResult[]): string {
  return [
    "| probe | what the client got | peak RSS MiB (process, so far) | slowest liveness ms | liveness failures |",
    "| --- | --- | ---: | ---: | ---: |",
    ...results.map((r) => `| ${r.probe} | ${r.answer} | ${r.peakRssMiB.toFixed(1)} | ${r.livenessMaxMs} | ${r.livenessFailures} |`),
  ].join("\n");
}
