import { createHash } from 'node:crypto';
import net from 'node:net';
import * as tus from 'tus-js-client';

/** What the tus tests share: the bytes they send, a network that can fail, and a tus-js-client run as a promise. */

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** CSV bytes of exactly `bytes`, different for each `tag`. */
export function csvBytes(bytes: number, tag: string): Buffer {
  const buffer = Buffer.alloc(bytes, 'a,b\n');
  buffer.write(`name,tag\n${tag},1\n`, 0);
  return buffer;
}

/**
 * A TCP relay in front of the API whose connections can be cut once a number of bytes went
 * through (the client's socket and the server's both drop), as a network failure would.
 */
export async function startRelay(
  target: number,
): Promise<{ port: number; cutAfter(bytes: number[]): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let forwarded = 0;
  let cuts: number[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      forwarded += chunk.length;
      if (cuts.length > 0 && forwarded >= cuts[0]!) {
        cuts = cuts.slice(1);
        drop();
        return;
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.pipe(client);
    client.on('close', drop).on('error', drop);
    upstream.on('close', drop).on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cutAfter(bytes) {
      forwarded = 0;
      cuts = [...bytes];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export function tusUpload(
  content: Buffer,
  options: Partial<tus.UploadOptions> & { endpoint?: string; uploadUrl?: string },
): Promise<{ fileId: string | undefined; url: string | null }> {
  return new Promise((resolve, reject) => {
    const upload: tus.Upload = new tus.Upload(content, {
      metadata: { filename: 'big.csv', content_type: 'text/csv' },
      retryDelays: [0, 0, 0, 0, 0, 0, 0, 0],
      storeFingerprintForResuming: false,
      ...options,
      onSuccess: (payload) => resolve({ fileId: payload.lastResponse.getHeader('Intake-File-Id'), url: upload.url }),
      onError: reject,
    });
    upload.start();
  });
}
