import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../helpers/free-port.ts';

export const NGINX = '/usr/sbin/nginx';
export const SHIPPED_CONFIG = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../deploy/nginx.conf');
const MIB = 1024 * 1024;

export interface ProxySettings {
  /** host:port of the Intake process(es) the upstream points at (several: one `server` line each). */
  upstream: string | readonly string[];
  /** The MAX_UPLOAD_BYTES of that Intake: the proxy's limit is derived the way the shipped file documents. */
  maxUploadBytes: number;
}

/**
 * deploy/nginx.conf as shipped, with only the lines it marks `# test:` swapped (the listen
 * port, the upstream, the body limit) and the paths nginx writes to moved into `directory`.
 * Each marked line must be found exactly once: if the file changes shape, the tests fail
 * instead of silently testing something else.
 */
export function configFromShipped(settings: ProxySettings & { port: number; directory: string }): string {
  let text = fs.readFileSync(SHIPPED_CONFIG, 'utf8');
  const swap = (marker: string, replacement: string) => {
    const pattern = new RegExp(`^(\\s*)[^\\n#]*# test: ${marker}$`, 'gm');
    const found = text.match(pattern)?.length ?? 0;
    if (found !== 1) throw new Error(`deploy/nginx.conf: expected one line marked "# test: ${marker}", found ${found}`);
    text = text.replace(pattern, (_line, indent: string) => `${indent}${replacement}`);
  };
  swap('listen', `listen 127.0.0.1:${settings.port};`);
  const servers = typeof settings.upstream === 'string' ? [settings.upstream] : settings.upstream;
  swap('upstream', servers.map((server) => `server ${server};`).join(' '));
  // The shipped rule: MAX_UPLOAD_BYTES plus 1 MiB of multipart framing.
  swap('body limit', `client_max_body_size ${settings.maxUploadBytes + MIB};`);
  const writable = (name: string) => path.join(settings.directory, name);
  const paths = [
    `client_body_temp_path ${writable('client_body')};`,
    `proxy_temp_path ${writable('proxy')};`,
    `fastcgi_temp_path ${writable('fastcgi')};`,
    `uwsgi_temp_path ${writable('uwsgi')};`,
    `scgi_temp_path ${writable('scgi')};`,
  ];
  if (!/^http \{$/m.test(text)) throw new Error('deploy/nginx.conf: no `http {` line');
  text = text.replace(/^http \{$/m, `http {\n  ${paths.join('\n  ')}`);
  return `error_log ${writable('error.log')} warn;\n${text}`;
}

export interface RunningProxy {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The pids of nginx's worker processes (for memory figures). */
  workerPids(): number[];
  errorLog(): string;
  stop(): Promise<void>;
}

/** Runs Debian's nginx in the foreground on a free loopback port, in front of `upstream`. */
export async function startProxy(settings: ProxySettings & { directory: string }): Promise<RunningProxy> {
  const port = await freePort();
  fs.mkdirSync(settings.directory, { recursive: true });
  // nginx started by root hands requests to workers running as nobody: they must write here.
  fs.chmodSync(settings.directory, 0o777);
  const configFile = path.join(settings.directory, 'nginx.conf');
  fs.writeFileSync(configFile, configFromShipped({ ...settings, port }));
  const pidFile = path.join(settings.directory, 'nginx.pid');
  const child: ChildProcess = spawn(NGINX, ['-c', configFile, '-p', settings.directory, '-g', `daemon off; pid ${pidFile};`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let running = true;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => {
      running = false;
      reject(new Error(`nginx exited with ${code}: ${stderr}`));
    }),
  );
  exited.catch(() => undefined);
  await Promise.race([acceptsConnections(port, () => running), exited]);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    workerPids: () =>
      fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    errorLog: () => fs.readFileSync(path.join(settings.directory, 'error.log'), 'utf8'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGQUIT');
      await gone;
    },
  };
}

/**
 * Resolves once something listens on the port: nginx says nothing when it has started. Tied to
 * the nginx process: once it has exited (a bad configuration, a port taken) this stops polling,
 * and the caller's race with the exit reports nginx's own error at once.
 */
async function acceptsConnections(port: number, running: () => boolean): Promise<void> {
  while (running()) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (connected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
