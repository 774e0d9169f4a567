import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A random, 1000-port-wide UDP range for mediasoup, so parallel runs rarely overlap. */
export function rtcPortRange(): { min: number; max: number } {
  const min = 20000 + Math.floor(Math.random() * 20) * 1000;
  return { min, max: min + 999 };
}
