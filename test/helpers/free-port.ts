import net from 'node:net';

/**
 * A loopback port free at the moment of asking, for a server that must know its own address
 * before it listens (signed links point back at it). Shared by tests and benches.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
