import http from 'node:http';
import WebSocket from 'ws';

export interface Frame {
  type: string;
  [field: string]: unknown;
}

/** A WebSocket client that keeps every frame, for tests that read them in order. */
export class TestSocket {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  private readonly waiters: (() => void)[] = [];
  private read = 0;
  private closeInfo: { code: number; reason: string } | undefined;

  constructor(
    url: string,
    headers: Record<string, string> = {},
    readonly socket = new WebSocket(url, { headers }),
  ) {
    this.opened = new Promise((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      socket.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      this.wake();
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next frame not read yet (waits for it); fails if the socket closes first. */
  async next(): Promise<Frame> {
    while (this.read >= this.frames.length) {
      if (this.socket.readyState === WebSocket.CLOSED)
        throw new Error(
          `socket closed (${JSON.stringify(this.closeInfo)}) while waiting for a frame; got ${JSON.stringify(this.frames)}`,
        );
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.frames[this.read++]!;
  }

  /** Reads frames until one satisfies `done`; answers all of them, the last included. */
  async until(done: (frame: Frame) => boolean): Promise<Frame[]> {
    const seen: Frame[] = [];
    for (;;) {
      const frame = await this.next();
      seen.push(frame);
      if (done(frame)) return seen;
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Reads a Server-Sent Events response to its end. */
export function readEventStream(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; contentType: string; events: { event: string; data: Frame }[] }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => {
          const events = body
            .split('\n\n')
            .filter((block) => block.includes('data: '))
            .map((block) => {
              const lines = block.split('\n');
              const event = lines.find((line) => line.startsWith('event: '))?.slice(7) ?? 'message';
              const data = JSON.parse(lines.find((line) => line.startsWith('data: '))?.slice(6) ?? 'null') as Frame;
              return { event, data };
            });
          resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type']), events });
        });
      })
      .on('error', reject);
  });
}
