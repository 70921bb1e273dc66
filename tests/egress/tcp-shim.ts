// Stands in for the door in tests without a jail: a TCP listener on 127.0.0.1:0 that relays every
// connection to the proxy's unix socket, so host terraform can reach the proxy via AWS_ENDPOINT_URL.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface Shim {
  url: string;
  close(): Promise<void>;
}

export async function startShim(socketPath: string): Promise<Shim> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    open.add(client);
    open.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const socket of open) socket.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
