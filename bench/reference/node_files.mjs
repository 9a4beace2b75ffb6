// The floor of `GET /api/v1/files?limit=20` in Node: node:http and node-postgres with no
// framework, running the two statements Intake runs per request (the caller's account, session
// and revocation in one; the page with its total in the other), both prepared, rows as arrays,
// the access token verified once per token as Intake does. No hooks, logging, metrics,
// validation or security headers: what is left is the driver, the kernel and JSON. bench/all.ts
// runs it beside Intake and FastAPI, so the files row shows how much of Intake's CPU per request
// is this floor.
//
//   PORT=8002 REFERENCE_DATABASE_URL=postgres://... REFERENCE_JWKS='{"keys": [...]}' node bench/reference/node_files.mjs
import { Buffer } from 'node:buffer';
import http from 'node:http';
import { createLocalJWKSet, jwtVerify } from 'jose';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.REFERENCE_DATABASE_URL, max: 10 });
const keys = createLocalJWKSet(JSON.parse(process.env.REFERENCE_JWKS ?? '{"keys":[]}'));
const verified = new Map();

const CALLER = `select u.role, u.is_active, u.email_verified_at, s.revoked_at, s.id, r.jti
from users u
left join auth_sessions s on s.id = $2 and s.user_id = u.id
left join revoked_tokens r on r.jti = $3
where u.id = $1 limit 1`;

const PAGE = `select id, owner_id, filename, content_type, size_bytes, sha256, status, metadata, created_at, updated_at,
  (select count(*) from files where owner_id = $1)::int
from files where owner_id = $1 order by created_at desc, id desc limit $2 offset $3`;

async function claimsOf(authorization) {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
  if (!token) return undefined;
  let claims = verified.get(token);
  if (!claims) {
    ({ payload: claims } = await jwtVerify(token, keys, { issuer: 'intake', audience: 'intake-api' }));
    verified.set(token, claims);
  }
  return claims;
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function listFiles(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/api/v1/files') return send(res, 404, { title: 'Not Found' });
  const claims = await claimsOf(req.headers.authorization).catch(() => undefined);
  if (!claims) return send(res, 401, { title: 'Unauthorized' });
  const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 20), 1), 100);
  const offset = Math.max(Number(url.searchParams.get('offset') ?? 0), 0);
  const caller = await pool.query({
    name: 'caller',
    text: CALLER,
    values: [claims.sub, claims.sid, claims.jti],
    rowMode: 'array',
  });
  const standing = caller.rows[0];
  if (!standing || !standing[1] || standing[4] === null || standing[3] !== null || standing[5] !== null) {
    return send(res, 401, { title: 'Unauthorized' });
  }
  const page = await pool.query({ name: 'page', text: PAGE, values: [claims.sub, limit, offset], rowMode: 'array' });
  const items = page.rows.map((row) => ({
    id: row[0],
    owner_id: row[1],
    filename: row[2],
    content_type: row[3],
    size_bytes: Number(row[4]),
    sha256: row[5],
    status: row[6],
    metadata: row[7],
    created_at: row[8].toISOString(),
    updated_at: row[9].toISOString(),
  }));
  send(res, 200, { items, total: page.rows[0]?.[10] ?? 0, limit, offset });
}

http
  .createServer((req, res) => {
    listFiles(req, res).catch((error) => send(res, 500, { title: String(error) }));
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
