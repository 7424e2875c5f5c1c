import { createServer, type AddressInfo } from 'node:net';

/** A loopback port nothing listened on a moment ago (for a server a test starts and restarts itself). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
