import { createServer, type AddressInfo } from 'node:net';

/**
 * A port nothing listens on now, chosen by the OS: a random port in the
 * ephemeral range can be some connection's own port at that moment.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
