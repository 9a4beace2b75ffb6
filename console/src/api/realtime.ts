import { refreshSession } from './client';

export interface JobProgressEvent {
  type: 'job.progress';
  job_id: string;
  file_id: string | null;
  progress: { current: number; total: number | null; percent: number | null; message: string | null };
}
export interface JobStatusEvent {
  type: 'job.status';
  job_id: string;
  file_id: string | null;
  status: string;
  error?: { kind: string; message: string };
}
export interface FileStatusEvent {
  type: 'file.status';
  file_id: string;
  status: string;
}
export type LiveEvent = JobProgressEvent | JobStatusEvent | FileStatusEvent;

type Listener = (event: LiveEvent) => void;

const LIVE_TYPES = new Set(['job.progress', 'job.status', 'file.status']);

/**
 * One WebSocket per signed-in tab, subscribed to the `user` channel (everything of one's own), shared
 * by every page. The handshake carries the access cookie; an expiry (4001) refreshes the session
 * before reconnecting. Events published while reconnecting are not replayed, so pages re-read state
 * on `onReconnect`.
 */
export class LiveEvents {
  private socket: WebSocket | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly reconnectListeners = new Set<() => void>();
  private retryDelay = 500;
  private stopped = true;
  private timer: ReturnType<typeof setTimeout> | undefined;

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, 'signed out');
    this.socket = null;
  }

  listen(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  private open(isReconnect = false): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    this.socket = socket;
    socket.addEventListener('message', (message) => {
      const frame = parseFrame(message.data);
      if (!frame) return;
      if (frame.type === 'auth.ok') {
        socket.send(JSON.stringify({ type: 'subscribe', channel: 'user' }));
      } else if (frame.type === 'subscribed') {
        this.retryDelay = 500;
        if (isReconnect) for (const listener of this.reconnectListeners) listener();
      } else if (LIVE_TYPES.has(String(frame.type))) {
        for (const listener of this.listeners) listener(frame as unknown as LiveEvent);
      }
    });
    socket.addEventListener('close', (event) => {
      if (this.stopped || this.socket !== socket) return;
      const delay = this.retryDelay;
      this.retryDelay = Math.min(this.retryDelay * 2, 15_000);
      this.timer = setTimeout(async () => {
        // 4001: the access cookie expired or was refused; renew it before trying again.
        if (event.code === 4001 && !(await refreshSession())) return;
        if (this.stopped) return;
        this.open(true);
      }, delay);
    });
  }
}

function parseFrame(data: unknown): Record<string, unknown> | null {
  if (typeof data !== 'string') return null;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export const liveEvents = new LiveEvents();
