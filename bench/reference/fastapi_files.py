"""The reference stack for `GET /api/v1/files?limit=20`: FastAPI + uvicorn + asyncpg.

A bearer-JWT dependency (the same EdDSA access tokens Intake issues, verified against the JWKS
it publishes) and a page of 20 of the caller's files plus their total count, read from the
same PostgreSQL table. It checks no session and no revocation: it is the floor a typical
Python service sets, not a copy of Intake.

    REFERENCE_DATABASE_URL=postgres://... REFERENCE_JWKS='{"keys": [...]}' \
      /usr/bin/python3 -m uvicorn fastapi_files:app --app-dir bench/reference --workers 2 --port 8001

bench/all.ts starts it (Debian's python3-fastapi, python3-uvicorn, python3-asyncpg, python3-jwt).
"""

import json
import os

import asyncpg
import jwt
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

DATABASE_URL = os.environ["REFERENCE_DATABASE_URL"]
KEYS = {key["kid"]: jwt.PyJWK(key).key for key in json.loads(os.environ["REFERENCE_JWKS"])["keys"]}

app = FastAPI()
bearer = HTTPBearer()
pool = None


@app.on_event("startup")
async def open_pool() -> None:
    global pool
    pool = await asyncpg.create_pool(DATABASE_URL, min_size=2, max_size=10)


@app.on_event("shutdown")
async def close_pool() -> None:
    await pool.close()


def current_user(credentials: HTTPAuthorizationCredentials = Depends(bearer)) -> str:
    try:
        kid = jwt.get_unverified_header(credentials.credentials).get("kid")
        claims = jwt.decode(
            credentials.credentials,
            KEYS[kid],
            algorithms=["EdDSA"],
            audience="intake-api",
            issuer="intake",
            options={"require": ["sub", "exp", "iat", "jti"]},
        )
    except (jwt.PyJWTError, KeyError) as error:
        raise HTTPException(status_code=401, detail="invalid token") from error
    if claims.get("type") != "access":
        raise HTTPException(status_code=401, detail="not an access token")
    return claims["sub"]


PAGE = """
select id, filename, content_type, size_bytes, sha256, status, metadata, created_at, updated_at
from files where owner_id = $1 order by created_at desc, id desc limit $2 offset $3
"""


@app.get("/api/v1/files")
async def list_files(
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0),
    owner: str = Depends(current_user),
) -> dict:
    async with pool.acquire() as connection:
        rows = await connection.fetch(PAGE, owner, limit, offset)
        total = await connection.fetchval("select count(*) from files where owner_id = $1", owner)
    items = [
        {
            "id": str(row["id"]),
            "filename": row["filename"],
            "content_type": row["content_type"],
            "size_bytes": row["size_bytes"],
            "sha256": row["sha256"],
            "status": row["status"],
            "metadata": json.loads(row["metadata"]) if row["metadata"] is not None else None,
            "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat(),
        }
        for row in rows
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}
