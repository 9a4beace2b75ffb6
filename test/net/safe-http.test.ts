import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundGuard, OutboundRequestError, type OutboundPolicy } from '../../src/net/safe-http.ts';

const BASE: OutboundPolicy = {
  allowPrivateNetworks: false,
  allowedCidrs: [],
  connectTimeoutMs: 2_000,
  totalTimeoutMs: 5_000,
  maxResponseBytes: 1_024,
};

async function refusal(promise: Promise<unknown>): Promise<OutboundRequestError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OutboundRequestError);
  return error as OutboundRequestError;
}

describe('outbound HTTP guard (SSRF)', () => {
  let server: http.Server;
  let port: number;
  const hits: string[] = [];

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      hits.push(request.url ?? '');
      if (request.url === '/redirect') {
        response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      } else if (request.url === '/big') {
        response.writeHead(200);
        response.end(Buffer.alloc(1024 * 1024, 'x'));
      } else if (request.url === '/hang') {
        // Never answers: the total timeout must end the request.
      } else {
        response.writeHead(200).end('ok');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('refuses loopback, by address or by a name resolving to it, unless configuration allows it', async () => {
    const guard = new OutboundGuard(BASE);
    const byAddress = await refusal(guard.request(`http://127.0.0.1:${port}/`));
    expect(byAddress.code).toBe('address_forbidden');
    const byName = await refusal(guard.request(`http://localhost:${port}/`));
    expect(byName.code).toBe('address_forbidden');
    expect(byName.message).toMatch(/localhost resolves to .* loopback/);
    expect(hits).toHaveLength(0);

    const allowed = new OutboundGuard({ ...BASE, allowedCidrs: ['127.0.0.0/8'] });
    expect((await allowed.request(`http://127.0.0.1:${port}/`)).status).toBe(200);
    const open = new OutboundGuard({ ...BASE, allowPrivateNetworks: true });
    expect((await open.request(`http://127.0.0.1:${port}/`, { method: 'GET' })).body.toString()).toBe('ok');
  });

  it('refuses private, link-local, unique-local, multicast and unspecified addresses, IPv4 and IPv6', async () => {
    const guard = new OutboundGuard(BASE);
    for (const address of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::10.0.0.1',
      '2002:0a00:0001::1',
    ]) {
      expect(guard.addressProblem(address), address).toMatch(/private, loopback, link-local or reserved/);
    }
    for (const address of ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(guard.addressProblem(address), address).toBeUndefined();
    }
  });

  it('refuses other schemes, credentials in the URL and IP literals before connecting', async () => {
    const guard = new OutboundGuard(BASE);
    expect((await refusal(guard.request('ftp://example.com/file'))).code).toBe('scheme_not_allowed');
    expect((await refusal(guard.request('file:///etc/passwd'))).code).toBe('scheme_not_allowed');
    expect((await refusal(guard.request('http://user:secret@example.com/'))).code).toBe('credentials_in_url');
    expect((await refusal(guard.request('http://169.254.169.254/latest/meta-data/'))).code).toBe('address_forbidden');
    expect((await refusal(guard.request('http://10.0.0.1/'))).code).toBe('address_forbidden');
    expect((await refusal(guard.request('http://[::1]/'))).code).toBe('address_forbidden');
    expect((await refusal(guard.request('http://[::ffff:7f00:1]/'))).code).toBe('address_forbidden');
    expect((await refusal(guard.check('http://0x7f.1/'))).code).toBe('address_forbidden');
    expect((await refusal(guard.check('http://2130706433/'))).code).toBe('address_forbidden');
  });

  it('checks DNS at connect time, so an answer that changes after validation (rebinding) is refused', async () => {
    let calls = 0;
    const guard = new OutboundGuard({
      ...BASE,
      // First answer public (what the creation-time check sees), then loopback (what a rebinding attacker serves next).
      resolve: async () => (calls++ === 0 ? [{ address: '93.184.215.14', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]),
    });
    await expect(guard.check(`http://rebind.test:${port}/`)).resolves.toBeInstanceOf(URL);
    const error = await refusal(guard.request(`http://rebind.test:${port}/`));
    expect(error.code).toBe('address_forbidden');
    expect(error.message).toMatch(/rebind\.test resolves to 127\.0\.0\.1/);
    expect(calls).toBe(2);
    expect(hits.filter((hit) => hit === '/rebound')).toHaveLength(0);
  });

  it('refuses a host when any of its addresses is forbidden', async () => {
    const guard = new OutboundGuard({
      ...BASE,
      resolve: async () => [
        { address: '93.184.215.14', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ],
    });
    expect((await refusal(guard.check('https://mixed.test/'))).message).toMatch(/10\.0\.0\.7/);
  });

  it('answers redirects as they are, without following them', async () => {
    const guard = new OutboundGuard({ ...BASE, allowedCidrs: ['127.0.0.1/32'] });
    const before = hits.length;
    const response = await guard.request(`http://127.0.0.1:${port}/redirect`);
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('http://169.254.169.254/latest/meta-data/');
    expect(hits.slice(before)).toEqual(['/redirect']);
  });

  it('reads at most the configured number of response bytes', async () => {
    const guard = new OutboundGuard({ ...BASE, allowedCidrs: ['127.0.0.1/32'], maxResponseBytes: 1_000 });
    const response = await guard.request(`http://127.0.0.1:${port}/big`, { method: 'GET' });
    expect(response.status).toBe(200);
    expect(response.body.length).toBe(1_000);
    expect(response.truncated).toBe(true);
  });

  it('gives up on a peer that does not answer within the total timeout', async () => {
    const guard = new OutboundGuard({ ...BASE, allowedCidrs: ['127.0.0.1/32'], totalTimeoutMs: 200 });
    const error = await refusal(guard.request(`http://127.0.0.1:${port}/hang`));
    expect(error.code).toBe('timeout');
    expect(error.refused).toBe(false);
  });
});
