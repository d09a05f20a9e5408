from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outdial.db import run_sql
from outdial.models.foundation import api_key_vdns, api_keys, skill_queues
from outdial.secretbox import SecretBox


@dataclass(frozen=True, slots=True)
class ApiKey:
    ak: str
    sk: str
    vdn_ids: frozenset[int]
    sk_encrypted: str  # the stored form: tells whether the row still holds this key


def create_key(conn: Connection, box: SecretBox, vdn_ids: list[int], now_ms: int) -> ApiKey:
    ak = secrets.token_hex(10).upper()
    sk = secrets.token_hex(24)
    encrypted = box.encrypt(sk)
    conn.execute(api_keys.insert().values(ak=ak, sk_encrypted=encrypted, created_at=now_ms))
    conn.execute(api_key_vdns.insert(), [{"ak": ak, "vdn_id": vdn} for vdn in sorted(set(vdn_ids))])
    return ApiKey(ak, sk, frozenset(vdn_ids), encrypted)


# The signed-request path runs these on every request: plain SQL on the driver (db.run_sql).
_ACTIVE_KEY_ROW = "SELECT sk_encrypted FROM api_keys WHERE ak = ? AND revoked_at IS NULL"
_KEY_VDNS_SQL = sa.text("SELECT vdn_id FROM api_key_vdns WHERE ak = :ak")
_CONSUME = "INSERT INTO used_signatures (signature, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING signature"
_PRUNE = "DELETE FROM used_signatures WHERE expires_at < ?"
_PRUNE_EVERY_MS = 60_000

# Decrypted keys by AK. A key's VDNs never change after creation. A request's signature is checked against
# the key remembered here, before any transaction; the request's transaction then reads the row again
# (key_still_active), so a revocation still takes effect at once.
_keys: dict[str, ApiKey] = {}
_next_prune_at = 0


def find_active_key(conn: Connection, box: SecretBox, ak: str) -> ApiKey | None:
    rows = run_sql(conn, _ACTIVE_KEY_ROW, (ak,))
    if not rows:
        return None
    encrypted = rows[0][0]
    known = _keys.get(ak)
    if known is not None and known.sk_encrypted == encrypted:
        return known
    vdns = conn.execute(_KEY_VDNS_SQL, {"ak": ak}).scalars().all()
    key = ApiKey(ak, box.decrypt(encrypted), frozenset(vdns), encrypted)
    if len(_keys) > 10_000:
        _keys.clear()
    _keys[ak] = key
    return key


def remembered_key(ak: str) -> ApiKey | None:
    """The key find_active_key last found for this AK, without a query (it may have been revoked since:
    key_still_active tells, inside the request's transaction)."""
    return _keys.get(ak)


def key_still_active(conn: Connection, key: ApiKey) -> bool:
    """Whether the row still holds this key, not revoked."""
    if run_sql(conn, _ACTIVE_KEY_ROW, (key.ak,)) == [(key.sk_encrypted,)]:
        return True
    _keys.pop(key.ak, None)
    return False


def list_keys(conn: Connection) -> list[dict[str, object]]:
    rows = conn.execute(sa.select(api_keys.c.ak, api_keys.c.created_at, api_keys.c.revoked_at)).all()
    vdns: dict[str, list[int]] = {}
    for ak, vdn in conn.execute(sa.select(api_key_vdns.c.ak, api_key_vdns.c.vdn_id)):
        vdns.setdefault(ak, []).append(vdn)
    return [
        {
            "ak": r.ak,
            "vdnIds": sorted(vdns.get(r.ak, [])),
            "createdAt": r.created_at,
            "revoked": r.revoked_at is not None,
        }
        for r in rows
    ]


def revoke_key(conn: Connection, ak: str, now_ms: int) -> bool:
    result = conn.execute(
        api_keys.update()
        .where(api_keys.c.ak == ak, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now_ms)
    )
    return result.rowcount == 1


def consume_signature(conn: Connection, signature: str, expires_at: int, now_ms: int) -> bool:
    """Record a signature as used; False when it was already used (a replay). Expired ones are pruned once
    a minute: one left a little longer does no harm, its timestamp is outside the window anyway."""
    global _next_prune_at
    if now_ms >= _next_prune_at:
        run_sql(conn, _PRUNE, (now_ms,))
        _next_prune_at = now_ms + _PRUNE_EVERY_MS
    return bool(run_sql(conn, _CONSUME, (signature, expires_at)))


def add_skill_queue(conn: Connection, vdn_id: int, skill_id: int, name: str, now_ms: int) -> None:
    conn.execute(skill_queues.insert().values(vdn_id=vdn_id, skill_id=skill_id, name=name, created_at=now_ms))


def skill_queue_exists(conn: Connection, vdn_id: int, skill_id: int) -> bool:
    row = conn.execute(
        sa.select(skill_queues.c.skill_id).where(
            skill_queues.c.vdn_id == vdn_id, skill_queues.c.skill_id == skill_id
        )
    ).first()
    return row is not None


def list_skill_queues(conn: Connection, vdn_id: int) -> list[dict[str, object]]:
    rows = conn.execute(
        sa.select(skill_queues.c.skill_id, skill_queues.c.name)
        .where(skill_queues.c.vdn_id == vdn_id)
        .order_by(skill_queues.c.skill_id)
    )
    return [{"skillId": r.skill_id, "skillName": r.name} for r in rows]


def delete_skill_queue(conn: Connection, vdn_id: int, skill_id: int) -> bool:
    result = conn.execute(
        skill_queues.delete().where(skill_queues.c.vdn_id == vdn_id, skill_queues.c.skill_id == skill_id)
    )
    return result.rowcount == 1
