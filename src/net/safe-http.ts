import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Outbound HTTP to addresses users choose (webhooks) without turning the service into a proxy
 * into its own network (SSRF): only http(s), no credentials in the URL, no private, loopback,
 * link-local, unique-local, multicast or unspecified addresses unless configuration allows them,
 * checked on the address the socket actually connects to (so a DNS answer that changes between
 * a check and the connection — rebinding — cannot slip through), short timeouts, bounded
 * response reads and no redirects.
 */
export interface OutboundPolicy {
  /** Every address allowed (development, tests, trusted internal receivers). */
  readonly allowPrivateNetworks: boolean;
  /** CIDRs allowed although they are in a forbidden range, e.g. `127.0.0.1/32` or `10.1.0.0/16`. */
  readonly allowedCidrs: readonly string[];
  readonly connectTimeoutMs: number;
  /** From the start of the request to the end of the (bounded) response. */
  readonly totalTimeoutMs: number;
  /** Response bytes read at most; the rest is dropped (receivers have nothing to tell us in a body). */
  readonly maxResponseBytes: number;
  /** Resolves host names; `dns.lookup` unless a test passes its own. */
  readonly resolve?: (hostname: string) => Promise<LookupAddress[]>;
}

export type OutboundErrorCode =
  | 'invalid_url'
  | 'scheme_not_allowed'
  | 'credentials_in_url'
  | 'address_forbidden'
  | 'dns_failed'
  | 'connect_timeout'
  | 'timeout'
  | 'connection_failed';

export class OutboundRequestError extends Error {
  constructor(
    readonly code: OutboundErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'OutboundRequestError';
  }

  /** Refusals by policy: retrying the same URL cannot succeed. */
  get refused(): boolean {
    return ['invalid_url', 'scheme_not_allowed', 'credentials_in_url', 'address_forbidden'].includes(this.code);
  }
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** At most `maxResponseBytes`. */
  body: Buffer;
  truncated: boolean;
  durationMs: number;
}

export interface OutboundRequest {
  method?: 'POST' | 'GET' | 'PUT';
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

// Ranges no webhook has a reason to reach: this host, private networks, link-local (cloud
// metadata at 169.254.169.254), carrier-grade NAT, documentation and benchmarking ranges,
// multicast, reserved and broadcast, and their IPv6 counterparts.
const FORBIDDEN_V4: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const FORBIDDEN_V6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  // IPv4-compatible (deprecated) addresses; IPv4-mapped ones are unwrapped and checked as IPv4.
  ['::', 96],
  ['100::', 64],
  // Local-use NAT64 (RFC 8215) places the IPv4 address around a reserved octet, Teredo
  // (RFC 4380) obfuscates it: neither is a destination a webhook needs, so both are refused.
  ['64:ff9b:1::', 48],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];

const forbidden = new BlockList();
for (const [network, prefix] of FORBIDDEN_V4) forbidden.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of FORBIDDEN_V6) forbidden.addSubnet(network, prefix, 'ipv6');

/** The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), or undefined. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const groups = expandIpv6(lower);
  if (!groups) return undefined;
  const toV4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  // ::ffff:a.b.c.d (mapped)
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return toV4(g6, g7);
  // ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765)
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0xffff && g5 === 0) return toV4(g6, g7);
  // ::a.b.c.d (IPv4-compatible, deprecated): also refused as a whole by the ::/96 range
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0 && (g6 !== 0 || g7 > 1)) return toV4(g6, g7);
  // 64:ff9b::/96 (NAT64)
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return toV4(g6, g7);
  // 2002:AABB:CCDD::/48 (6to4)
  if (g0 === 0x2002) return toV4(g1, g2);
  return undefined;
}

function expandIpv6(address: string): number[] | undefined {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const parts = v4[1].split('.').map(Number) as [number, number, number, number];
    text =
      text.slice(0, -v4[1].length) + `${((parts[0] << 8) | parts[1]).toString(16)}:${((parts[2] << 8) | parts[3]).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return undefined;
  const groups = [...head, ...Array.from({ length: halves.length === 2 ? missing : 0 }, () => '0'), ...tail].map((group) =>
    Number.parseInt(group, 16),
  );
  return groups.length === 8 && groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff)
    ? groups
    : undefined;
}

/** A compiled policy: the address check (with its allow-list) and the settings. */
export class OutboundGuard {
  private readonly allowed = new BlockList();

  constructor(readonly policy: OutboundPolicy) {
    for (const cidr of policy.allowedCidrs) {
      const [network, prefixText] = cidr.split('/');
      const family = network ? isIP(network) : 0;
      if (!network || family === 0) throw new Error(`not a CIDR: ${cidr}`);
      const prefix = prefixText === undefined ? (family === 4 ? 32 : 128) : Number(prefixText);
      this.allowed.addSubnet(network, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  /** Why an address may not be reached, or undefined when it may. */
  addressProblem(address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return `${address} is not an IP address`;
    if (this.policy.allowPrivateNetworks) return undefined;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.allowed.check(address, type)) return undefined;
    const inner = family === 6 ? embeddedIpv4(address) : undefined;
    if (inner !== undefined) {
      if (this.allowed.check(inner, 'ipv4')) return undefined;
      if (forbidden.check(inner, 'ipv4')) return `${address} (${inner}) is a private, loopback, link-local or reserved address`;
    }
    if (forbidden.check(address, type)) return `${address} is a private, loopback, link-local or reserved address`;
    return undefined;
  }

  /** Static checks on a URL (scheme, credentials, an IP-literal host). Throws OutboundRequestError. */
  parseUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch (error) {
      throw new OutboundRequestError('invalid_url', 'not an absolute URL', { cause: error });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new OutboundRequestError(
        'scheme_not_allowed',
        `only http and https URLs are allowed, not ${url.protocol.replace(/:$/, '')}`,
      );
    }
    if (url.username !== '' || url.password !== '') {
      throw new OutboundRequestError('credentials_in_url', 'URLs may not carry a user name or password');
    }
    const host = bareHost(url);
    if (host === '') throw new OutboundRequestError('invalid_url', 'the URL has no host');
    if (isIP(host) !== 0) {
      const problem = this.addressProblem(host);
      if (problem) throw new OutboundRequestError('address_forbidden', `refused: ${problem}`);
    }
    return url;
  }

  /**
   * The URL checked as it would be at connect time: every address its host resolves to must be
   * allowed. Used when an endpoint is created, so the owner hears about a bad URL at once.
   */
  async check(raw: string): Promise<URL> {
    const url = this.parseUrl(raw);
    const host = bareHost(url);
    if (isIP(host) === 0) await this.resolveAllowed(host);
    return url;
  }

  private async resolveAllowed(hostname: string): Promise<LookupAddress[]> {
    let addresses: LookupAddress[];
    try {
      addresses = await (this.policy.resolve ?? systemResolve)(hostname);
    } catch (error) {
      throw new OutboundRequestError('dns_failed', `${hostname} does not resolve`, { cause: error });
    }
    if (addresses.length === 0) throw new OutboundRequestError('dns_failed', `${hostname} does not resolve`);
    // One forbidden answer refuses the host: which address a socket tries first is not ours to pick.
    for (const { address } of addresses) {
      const problem = this.addressProblem(address);
      if (problem) throw new OutboundRequestError('address_forbidden', `refused: ${hostname} resolves to ${problem}`);
    }
    return addresses;
  }

  /** The `lookup` handed to the socket: the addresses it connects to are the ones checked here. */
  private readonly checkedLookup: LookupFunction = (hostname, options, callback) => {
    this.resolveAllowed(hostname).then(
      (addresses) => {
        const family = typeof options === 'object' ? options.family : undefined;
        const wanted = family === 4 || family === 6 ? addresses.filter((entry) => entry.family === family) : addresses;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no IPv${String(family)} address`), { code: 'ENOTFOUND' }), '', 0);
          return;
        }
        if (typeof options === 'object' && options.all) {
          (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, wanted);
        } else {
          const first = wanted[0]!;
          callback(null, first.address, first.family);
        }
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };

  /**
   * Sends one request under the policy. Redirects are answered as they are (3xx), never
   * followed. Throws OutboundRequestError for refusals, DNS, connection and timeout failures.
   */
  async request(raw: string, request: OutboundRequest = {}): Promise<OutboundResponse> {
    const url = this.parseUrl(raw);
    const started = performance.now();
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<OutboundResponse>((resolve, reject) => {
      let settled = false;
      const fail = (error: OutboundRequestError) => {
        if (settled) return;
        settled = true;
        clearTimeout(totalTimer);
        clearTimeout(connectTimer);
        outgoing.destroy();
        reject(error);
      };
      const outgoing = client.request(url, {
        method: request.method ?? 'POST',
        headers: request.headers,
        lookup: this.checkedLookup,
        // A fresh connection each time: a pooled socket would skip the connect-time check.
        agent: false,
        signal: request.signal,
      });
      const totalTimer = setTimeout(
        () => fail(new OutboundRequestError('timeout', `no complete answer within ${this.policy.totalTimeoutMs} ms`)),
        this.policy.totalTimeoutMs,
      );
      const connectTimer = setTimeout(
        () => fail(new OutboundRequestError('connect_timeout', `could not connect within ${this.policy.connectTimeoutMs} ms`)),
        this.policy.connectTimeoutMs,
      );
      outgoing.on('socket', (socket) => {
        const connected = () => clearTimeout(connectTimer);
        if (!socket.connecting) connected();
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      });
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        if (error instanceof OutboundRequestError) return fail(error);
        const cause = error.cause;
        if (cause instanceof OutboundRequestError) return fail(cause);
        fail(
          new OutboundRequestError('connection_failed', error.code ? `${error.code}: ${error.message}` : error.message, {
            cause: error,
          }),
        );
      });
      outgoing.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          clearTimeout(totalTimer);
          clearTimeout(connectTimer);
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
            truncated,
            durationMs: Math.round(performance.now() - started),
          });
        };
        response.on('data', (chunk: Buffer) => {
          const room = this.policy.maxResponseBytes - size;
          if (chunk.length > room) {
            if (room > 0) chunks.push(chunk.subarray(0, room));
            size = this.policy.maxResponseBytes;
            truncated = true;
            // Enough: whatever else the peer sends is not read.
            finish();
            response.destroy();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        response.on('end', finish);
        response.on('error', () => finish());
        response.on('close', finish);
      });
      outgoing.end(request.body);
    });
  }
}

function bareHost(url: URL): string {
  // URL keeps IPv6 literals in brackets.
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

function systemResolve(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });
}
