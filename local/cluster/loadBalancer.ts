import * as net from "net";
import { inheritedListener } from "./rootless";

/**
 * The LoadBalancer Service's stand-in: a TCP listener on the host that spreads connections
 * over the backends that are ready now (the NodeBalancer sends traffic only to backends
 * whose /readyz check passes), round robin. A connection that finds no ready backend is
 * closed at once, as the NodeBalancer does with no healthy node.
 */
export class LocalLoadBalancer {
  private server?: net.Server;
  private next = 0;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly bind: string,
    private readonly port: number,
    /** host:port of every backend ready now. */
    private readonly readyBackends: () => Array<{ host: string; port: number }>,
  ) {}

  get url(): string {
    return `http://${this.bind}:${this.port}`;
  }

  start(): Promise<void> {
    this.server = net.createServer((client) => this.forward(client));
    return new Promise((resolve, reject) => {
      this.server!.once("error", reject);
      // A rootless run listens on the socket the host side opened for it (local/cluster/rootless.ts).
      const fd = inheritedListener(this.bind, this.port);
      this.server!.listen(fd !== undefined ? { fd } : { port: this.port, host: this.bind }, () => resolve());
    });
  }

  private forward(client: net.Socket): void {
    const backends = this.readyBackends();
    if (backends.length === 0) {
      client.destroy();
      return;
    }
    const backend = backends[this.next++ % backends.length]!;
    const upstream = net.connect(backend);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
