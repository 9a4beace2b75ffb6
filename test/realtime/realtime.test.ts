import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventBus } from '../../src/events/event-bus.ts';
import WebSocket from 'ws';
import { createEventBus } from '../../src/events/create-event-bus.ts';
import { MemoryEventBus } from '../../src/events/memory-event-bus.ts';
import { EVENT_VERSION } from '../../src/events/realtime-events.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { silentLog } from '../jobs/queue-harness.ts';
import { uploadOne } from '../files/multipart.ts';
import { readEventStream, TestSocket, type Frame } from './ws-client.ts';

const CSV = 'name;city;score\nAda;London;10\nGrace;New York;20\nbroken;row\n';
const FINAL = ['succeeded', 'failed', 'timed_out', 'cancelled'];

/**
 * The realtime API on a real socket (port 0), with a real worker started beside the app once a
 * client is watching, the way `intake worker` runs beside `intake serve`. With REDIS_URL set,
 * the queue is BullMQ and events travel over Redis pub/sub.
 */
describe('realtime: WebSocket and Server-Sent Events', () => {
  let subject: TestApp;
  /** Embedded mode: the app and the worker share one in-process bus. With Redis each builds its own. */
  let sharedBus: EventBus | undefined;
  let base: string;
  let alice: TestUser;
  let bob: TestUser;
  let frozenAt: number | undefined;

  beforeAll(async () => {
    sharedBus = process.env.REDIS_URL ? undefined : new MemoryEventBus(silentLog);
    subject = await createTestApp({
      env: {
        JOBS_POLL_INTERVAL_MS: '50',
        WS_RATE_LIMIT_MESSAGES: '40',
        WS_MAX_MESSAGE_BYTES: '2048',
        WS_AUTH_TIMEOUT_MS: '5000',
        // Long enough that a client whose event loop is held up by PGlite on a busy machine is never
        // taken for a dead peer; the dead-peer test below runs its own app with short heartbeats.
        WS_HEARTBEAT_MS: '600000',
        WS_MAX_BUFFERED_BYTES: '65536',
      },
      // The app reads the time from this clock: a test can stop it to make a token's remaining
      // lifetime independent of how fast the machine is.
      overrides: { clock: () => frozenAt ?? Date.now(), ...(sharedBus ? { eventBus: sharedBus } : {}) },
    });
    await subject.app.listen({ host: '127.0.0.1', port: 0 });
    base = `127.0.0.1:${(subject.app.server.address() as AddressInfo).port}`;
    alice = await subject.createUser();
    bob = await subject.createUser();
  });

  afterAll(async () => {
    await subject?.close();
    await sharedBus?.close();
  });

  async function startWorker(): Promise<WorkerRuntime> {
    return buildWorker(subject.config, {
      database: subject.database,
      log: silentLog,
      ...(sharedBus ? { eventBus: sharedBus } : {}),
    });
  }

  const upload = (user: TestUser) =>
    uploadOne(subject.app, user, { filename: 'people.csv', contentType: 'text/csv', content: CSV });

  async function signedIn(user: TestUser): Promise<TestSocket> {
    const client = new TestSocket(`ws://${base}/api/v1/ws`);
    await client.opened;
    client.send({ type: 'auth', token: user.accessToken });
    expect(await client.next()).toEqual({ type: 'auth.ok', user_id: user.id });
    return client;
  }

  it('streams progress and then the final status, in order, to a client subscribed to its job', async () => {
    const file = await upload(alice);
    const client = await signedIn(alice);
    client.send({ type: 'subscribe', channel: `job:${file.job_id}` });
    expect(await client.next()).toEqual({ type: 'subscribed', channel: `job:${file.job_id}` });
    // The current state comes first: nothing is running yet.
    expect(await client.next()).toEqual({ type: 'job.status', job_id: file.job_id, file_id: file.id, status: 'queued' });
    const files = await signedIn(alice);
    files.send({ type: 'subscribe', channel: `file:${file.id}` });
    expect(await files.next()).toEqual({ type: 'subscribed', channel: `file:${file.id}` });
    expect(await files.next()).toEqual({ type: 'file.status', file_id: file.id, status: 'uploaded' });

    const runtime = await startWorker();
    let frames: Frame[];
    let fileFrames: Frame[];
    try {
      frames = await client.until((frame) => frame.type === 'job.status' && FINAL.includes(frame.status as string));
      fileFrames = await files.until((frame) => frame.type === 'job.status' && FINAL.includes(frame.status as string));
    } finally {
      await runtime.close(0);
      client.close();
      files.close();
    }
    expect(frames[0]).toEqual({ type: 'job.status', job_id: file.job_id, file_id: file.id, status: 'running' });
    expect(frames.at(-1)).toEqual({ type: 'job.status', job_id: file.job_id, file_id: file.id, status: 'succeeded' });
    const progress = frames
      .filter((frame) => frame.type === 'job.progress')
      .map((frame) => frame.progress as { current: number; total: number; percent: number });
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.map((step) => step.current)).toEqual([...progress.map((step) => step.current)].sort((a, b) => a - b));
    expect(progress.at(-1)).toMatchObject({ current: 5, total: 5, percent: 100, message: 'done' });
    expect(frames.every((frame) => frame.job_id === file.job_id)).toBe(true);
    // A file's channel carries its status and the events of the jobs that process it.
    expect(fileFrames.filter((frame) => frame.type === 'file.status').map((frame) => frame.status)).toEqual([
      'processing',
      'processed',
    ]);
    expect(fileFrames.filter((frame) => frame.type !== 'file.status')).toEqual(frames);
  }, 60_000);

  it('answers not_found for a job or file of someone else, exactly as for one that does not exist', async () => {
    const file = await upload(alice);
    const client = await signedIn(bob);
    const missing = randomUUID();
    for (const kind of ['job', 'file']) {
      const theirs = kind === 'job' ? file.job_id : file.id;
      client.send({ type: 'subscribe', channel: `${kind}:${theirs}` });
      const refused = await client.next();
      client.send({ type: 'subscribe', channel: `${kind}:${missing}` });
      const absent = await client.next();
      expect(refused).toMatchObject({ type: 'error', code: 'not_found' });
      expect({ ...refused, channel: undefined }).toEqual({ ...absent, channel: undefined });
    }
    client.send({ type: 'subscribe', channel: 'jobs:everything' });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'invalid_channel' });
    client.close();
  });

  it("routes a user subscription to the caller's own events only", async () => {
    const watcher = await signedIn(bob);
    watcher.send({ type: 'subscribe', channel: 'user' });
    expect(await watcher.next()).toEqual({ type: 'subscribed', channel: 'user' });
    const aliceFile = await upload(alice);
    const bobFile = await upload(bob);
    // Bob's own upload is announced; Alice's never reaches him.
    expect(await watcher.next()).toEqual({ type: 'file.status', file_id: bobFile.id, status: 'uploaded' });
    expect(watcher.frames.some((frame) => frame.file_id === aliceFile.id)).toBe(false);
    watcher.send({ type: 'unsubscribe', channel: 'user' });
    expect(await watcher.next()).toEqual({ type: 'unsubscribed', channel: 'user' });
    watcher.close();
  });

  it('closes with 4001 for a bad token, a bad header, a message before authentication, and at token expiry', async () => {
    const forged = new TestSocket(`ws://${base}/api/v1/ws`);
    await forged.opened;
    forged.send({ type: 'auth', token: 'not-a-token' });
    expect(await forged.closed).toEqual({ code: 4001, reason: 'invalid_token' });

    const badKey = new TestSocket(`ws://${base}/api/v1/ws`, { authorization: 'Bearer ik_not_a_real_key' });
    expect((await badKey.closed).code).toBe(4001);

    const early = new TestSocket(`ws://${base}/api/v1/ws`);
    await early.opened;
    early.send({ type: 'subscribe', channel: 'user' });
    expect(await early.closed).toEqual({ code: 4001, reason: 'authenticate first' });

    const claims = JSON.parse(Buffer.from(alice.accessToken.split('.')[1]!, 'base64url').toString()) as { sid: string };
    // The server reads the token at the instant it was issued, however long the machine takes to
    // get there: it is valid then, with exactly one second left, after which the socket closes.
    const issuedAt = Math.floor(Date.now() / 1000);
    frozenAt = issuedAt * 1000;
    try {
      const shortLived = await subject.tokens.sign({
        type: 'access',
        sub: alice.id,
        sid: claims.sid,
        lifetimeSeconds: 1,
        issuedAtSeconds: issuedAt,
      });
      const expiring = new TestSocket(`ws://${base}/api/v1/ws`);
      await expiring.opened;
      expiring.send({ type: 'auth', token: shortLived.token });
      expect(await expiring.next()).toEqual({ type: 'auth.ok', user_id: alice.id });
      expect(await expiring.closed).toEqual({ code: 4001, reason: 'token expired' });
    } finally {
      frozenAt = undefined;
    }
  });

  it('accepts the access cookie from an allowed origin and refuses it from any other', async () => {
    const session = await subject.cookieLogin(alice.email, alice.password);
    const allowed = new TestSocket(`ws://${base}/api/v1/ws`, {
      cookie: session.cookie,
      origin: new URL(subject.config.publicUrl).origin,
    });
    expect(await allowed.next()).toEqual({ type: 'auth.ok', user_id: alice.id, method: 'cookie' });
    allowed.close();

    const foreign = new TestSocket(`ws://${base}/api/v1/ws`, { cookie: session.cookie, origin: 'https://evil.example' });
    expect(await foreign.closed).toEqual({ code: 4001, reason: 'origin not allowed' });
    const noOrigin = new TestSocket(`ws://${base}/api/v1/ws`, { cookie: session.cookie });
    expect((await noOrigin.closed).code).toBe(4001);
  });

  it('accepts an API key as the first message', async () => {
    const created = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: alice.bearer,
      payload: { name: 'realtime' },
    });
    expect(created.statusCode).toBe(201);
    const client = new TestSocket(`ws://${base}/api/v1/ws`);
    await client.opened;
    client.send({ type: 'auth', token: created.json().key });
    expect(await client.next()).toEqual({ type: 'auth.ok', user_id: alice.id });
    client.close();
  });

  it('closes a client that sends too much: oversized frames (1009) and too many messages (4029)', async () => {
    const big = await signedIn(alice);
    big.send({ type: 'subscribe', channel: 'x'.repeat(4096) });
    expect((await big.closed).code).toBe(1009);

    const chatty = await signedIn(alice);
    for (let i = 0; i < 60; i += 1) chatty.send({ type: 'subscribe', channel: 'user' });
    expect(await chatty.closed).toEqual({ code: 4029, reason: 'too many messages' });
  });

  it('terminates a peer that stops answering pings', async () => {
    // A peer that never answers is cut whatever the machine's speed: short heartbeats are safe here.
    const pinging = await createTestApp({ env: { WS_HEARTBEAT_MS: '100' } });
    try {
      await pinging.app.listen({ host: '127.0.0.1', port: 0 });
      const url = `ws://127.0.0.1:${(pinging.app.server.address() as AddressInfo).port}/api/v1/ws`;
      const user = await pinging.createUser();
      const silent = new TestSocket(url, {}, new WebSocket(url, { autoPong: false }));
      await silent.opened;
      silent.send({ type: 'auth', token: user.accessToken });
      expect(await silent.next()).toMatchObject({ type: 'auth.ok' });
      // Two heartbeats without a pong: no close frame, the connection is cut.
      expect((await silent.closed).code).toBe(1006);
    } finally {
      await pinging.close();
    }
  });

  it('disconnects a client that does not read fast enough instead of buffering without bound', async () => {
    const bus = sharedBus ?? (await createEventBus(subject.config, silentLog));
    const slow = await signedIn(alice);
    slow.send({ type: 'subscribe', channel: 'user' });
    expect(await slow.next()).toEqual({ type: 'subscribed', channel: 'user' });
    slow.socket.pause();
    const published = 4000;
    const padding = 'x'.repeat(2000);
    try {
      for (let index = 0; index < published; index += 1) {
        await bus.publish({
          type: 'job.progress',
          $version: EVENT_VERSION,
          owner_id: alice.id,
          job_id: randomUUID(),
          file_id: null,
          progress: { current: index, total: published, percent: null, message: padding },
        });
      }
    } finally {
      if (!sharedBus) await bus.close();
    }
    slow.socket.resume();
    const { code } = await slow.closed;
    // 4008 when the close frame got through, 1006 when the server had to cut the connection.
    expect([4008, 1006]).toContain(code);
    expect(slow.frames.length).toBeLessThan(published);
  }, 30_000);

  it('serves a job as Server-Sent Events that end after its final status, at once when it has finished', async () => {
    const file = await upload(alice);
    const url = `http://${base}/api/v1/jobs/${file.job_id}/events`;
    const streaming = readEventStream(url, alice.bearer);
    // Let the stream start before the worker does; either way it must end with the final status.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const runtime = await startWorker();
    let live;
    try {
      live = await streaming;
    } finally {
      await runtime.close(0);
    }
    expect(live.status).toBe(200);
    expect(live.contentType).toContain('text/event-stream');
    expect(live.events.at(-1)).toEqual({
      event: 'job.status',
      data: { type: 'job.status', job_id: file.job_id, file_id: file.id, status: 'succeeded' },
    });
    expect(live.events.some((event) => event.event === 'job.progress')).toBe(true);

    const replay = await readEventStream(url, alice.bearer);
    expect(replay.events).toEqual([
      { event: 'job.status', data: { type: 'job.status', job_id: file.job_id, file_id: file.id, status: 'succeeded' } },
    ]);

    const foreign = await readEventStream(url, bob.bearer);
    expect(foreign.status).toBe(404);
    expect((await readEventStream(url, {})).status).toBe(401);
  }, 60_000);
});
