import type { WebSocket } from 'ws';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Caller } from '../http/caller.ts';
import type { RealtimeConfig } from '../config/config.ts';
import { isAppError } from '../errors/app-error.ts';
import type { Unsubscribe } from '../events/event-bus.ts';
import { toClientEvent, type RealtimeEvent } from '../events/realtime-events.ts';
import type { JobLogger } from '../jobs/job-queue.ts';
import { parseJsonObject } from '../net/json-object.ts';
import {
  channelName,
  eventMatches,
  parseChannel,
  SubjectNotFound,
  type Channel,
  type RealtimeService,
} from './realtime.service.ts';

/** Close codes of the protocol (4000–4999 are the application's). */
export const CLOSE = {
  unauthorized: 4001,
  tooSlow: 4008,
  rateLimited: 4029,
  goingAway: 1001,
  unsupportedData: 1003,
} as const;

export type ProtocolErrorCode = 'not_found' | 'invalid_message' | 'invalid_channel' | 'too_many_subscriptions' | 'internal_error';

export interface ConnectionDeps {
  service: RealtimeService;
  authenticator: Authenticator;
  limits: RealtimeConfig;
  log: JobLogger;
  /** The time in ms (Date.now unless a test passes its own): decides how long a token has left. */
  now?: () => number;
  /** Told of each frame handed to the socket (metrics). */
  onSent?: () => void;
}

/** How the socket proved who it is at the handshake, if it did. */
export type HandshakeCredential =
  { kind: 'bearer'; token: string } | { kind: 'cookie'; token: string } | { kind: 'refused'; reason: string } | { kind: 'none' };

type ClientMessage = { type: 'auth'; token: string } | { type: 'subscribe' | 'unsubscribe'; channel: string };

const MAX_TIMER_MS = 2 ** 31 - 1;

/** One event reaches many sockets as the same object: it is serialized and encoded once, not once per socket. */
const serialized = new WeakMap<RealtimeEvent, Buffer>();

function frameOf(event: RealtimeEvent): Buffer {
  let bytes = serialized.get(event);
  if (bytes === undefined) {
    bytes = Buffer.from(JSON.stringify(toClientEvent(event)));
    serialized.set(event, bytes);
  }
  return bytes;
}

/**
 * One WebSocket and its protocol: authentication (at the handshake or by the first message),
 * subscriptions inside the caller's account, events relayed from the bus, and the limits that
 * keep one client from costing the server without bound.
 */
export class RealtimeConnection {
  /** Cleared by each heartbeat, set by a pong (or any message): two beats without one → dead peer. */
  alive = true;
  private caller: Caller | undefined;
  private readonly channels = new Map<string, Channel>();
  private unlisten: Unsubscribe | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private windowStart = Date.now();
  private windowCount = 0;
  private closed = false;
  /** Messages are handled one after another, so answers keep the order of the requests. */
  private work: Promise<void> = Promise.resolve();

  constructor(
    readonly socket: WebSocket,
    private readonly deps: ConnectionDeps,
    private readonly onClosed: (connection: RealtimeConnection) => void,
  ) {
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('message', (data, isBinary) => {
      this.alive = true;
      if (!this.withinRate()) return;
      if (isBinary) {
        this.close(CLOSE.unsupportedData, 'text frames only');
        return;
      }
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      this.work = this.work
        .then(() => this.handle(text))
        .catch((error: unknown) => {
          this.deps.log.error({ err: error }, 'realtime message handling failed');
          this.sendFrame({ type: 'error', code: 'internal_error', message: 'The message could not be handled.' });
        });
    });
    socket.on('close', () => void this.dispose());
    socket.on('error', () => void this.dispose());
  }

  /** Starts the protocol with what the handshake carried. */
  start(credential: HandshakeCredential): void {
    switch (credential.kind) {
      case 'refused':
        this.close(CLOSE.unauthorized, credential.reason);
        return;
      case 'none':
        this.authTimer = setTimeout(
          () => this.close(CLOSE.unauthorized, 'authentication timeout'),
          this.deps.limits.authTimeoutMs,
        );
        return;
      default:
        this.work = this.work.then(() =>
          this.authenticate(credential.kind === 'cookie' ? 'cookie' : 'bearer', credential.token, false),
        );
    }
  }

  get userId(): string | undefined {
    return this.caller?.id;
  }

  private withinRate(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= this.deps.limits.rateLimitWindowMs) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    this.windowCount += 1;
    if (this.windowCount <= this.deps.limits.rateLimitMessages) return true;
    this.close(CLOSE.rateLimited, 'too many messages');
    return false;
  }

  private async handle(text: string): Promise<void> {
    if (this.closed) return;
    const message = parseMessage(text);
    if (!message) {
      this.error('invalid_message', 'Send JSON objects with a "type": auth, subscribe or unsubscribe.');
      return;
    }
    if (message.type === 'auth') {
      if (this.caller) this.error('invalid_message', 'This connection is already authenticated.');
      else await this.authenticate('bearer', message.token, true);
      return;
    }
    if (!this.caller) {
      this.close(CLOSE.unauthorized, 'authenticate first');
      return;
    }
    const channel = parseChannel(message.channel);
    if (!channel) {
      this.error('invalid_channel', 'Channels are "user", "job:<uuid>" and "file:<uuid>".', message.channel);
      return;
    }
    const name = channelName(channel);
    if (message.type === 'unsubscribe') {
      this.channels.delete(name);
      this.sendFrame({ type: 'unsubscribed', channel: name });
      return;
    }
    if (!this.channels.has(name) && this.channels.size >= this.deps.limits.maxSubscriptions) {
      this.error('too_many_subscriptions', `At most ${this.deps.limits.maxSubscriptions} subscriptions per connection.`, name);
      return;
    }
    let snapshot: RealtimeEvent[];
    try {
      snapshot = await this.deps.service.snapshot(channel, this.caller.id);
    } catch (error) {
      if (!(error instanceof SubjectNotFound)) throw error;
      // The same answer for someone else's job as for a missing one: existence is not revealed.
      this.error('not_found', `No such ${channel.kind}.`, name);
      return;
    }
    if (this.closed) return;
    this.channels.set(name, channel);
    this.sendFrame({ type: 'subscribed', channel: name });
    for (const event of snapshot) this.sendFrame(toClientEvent(event));
  }

  private async authenticate(method: 'cookie' | 'bearer', token: string, viaMessage: boolean): Promise<void> {
    clearTimeout(this.authTimer);
    let caller: Caller;
    try {
      caller =
        method === 'cookie'
          ? await this.deps.authenticator.fromAccessToken(token, 'cookie')
          : await this.deps.authenticator.fromBearer(token);
    } catch (error) {
      this.close(CLOSE.unauthorized, isAppError(error) ? error.code : 'invalid credentials');
      return;
    }
    if (this.closed) return;
    const expiresAt = caller.session?.tokenExpiresAt;
    const remaining = expiresAt ? expiresAt.getTime() - (this.deps.now ?? Date.now)() : undefined;
    if (remaining !== undefined && remaining <= 0) {
      this.close(CLOSE.unauthorized, 'token expired');
      return;
    }
    this.caller = caller;
    const unlisten = await this.deps.service.listen(caller.id, (event) => this.relay(event));
    if (this.closed) {
      await unlisten();
      return;
    }
    this.unlisten = unlisten;
    // Cookie and handshake-header callers are ready at once; the answer tells them who they are all the same.
    this.sendFrame({ type: 'auth.ok', user_id: caller.id, ...(viaMessage ? {} : { method }) });
    // Armed once the client has heard it is in, so `auth.ok` always precedes the expiry close.
    if (remaining !== undefined)
      this.expiryTimer = setTimeout(() => this.close(CLOSE.unauthorized, 'token expired'), Math.min(remaining, MAX_TIMER_MS));
  }

  private relay(event: RealtimeEvent): void {
    if (this.closed) return;
    for (const channel of this.channels.values()) {
      if (eventMatches(channel, event)) {
        this.sendText(frameOf(event));
        return;
      }
    }
  }

  private error(code: ProtocolErrorCode, message: string, channel?: string): void {
    this.sendFrame({ type: 'error', code, message, ...(channel === undefined ? {} : { channel }) });
  }

  private sendFrame(frame: object): void {
    this.sendText(JSON.stringify(frame));
  }

  private sendText(text: string | Buffer): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    // A client that does not read lets unsent frames pile up in our memory: cut it off instead.
    if (this.socket.bufferedAmount > this.deps.limits.maxBufferedBytes) {
      this.close(CLOSE.tooSlow, 'client too slow');
      return;
    }
    // Text frames either way: a Buffer is the already-encoded JSON.
    this.socket.send(text, { binary: false });
    this.deps.onSent?.();
  }

  /** Sends a ping, or ends a peer that never answered the last one. */
  heartbeat(): void {
    if (!this.alive) {
      this.socket.terminate();
      return;
    }
    this.alive = false;
    if (this.socket.readyState === this.socket.OPEN) this.socket.ping();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason);
      // A peer that does not answer the close handshake (or cannot: its buffer is full) is cut.
      setTimeout(() => this.socket.terminate(), 1_000).unref();
    }
    void this.dispose();
  }

  private async dispose(): Promise<void> {
    this.closed = true;
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.channels.clear();
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    this.onClosed(this);
    await unlisten?.().catch(() => undefined);
  }
}

function parseMessage(text: string): ClientMessage | undefined {
  const message = parseJsonObject(text);
  if (message === undefined) return undefined;
  if (message.type === 'auth' && typeof message.token === 'string' && message.token.length > 0)
    return { type: 'auth', token: message.token };
  if ((message.type === 'subscribe' || message.type === 'unsubscribe') && typeof message.channel === 'string') {
    return { type: message.type, channel: message.channel };
  }
  return undefined;
}
