from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outdial.models.foundation import api_key_vdns, api_keys, skill_queues
from outdial.secretbox import SecretBox


@dataclass(frozen=True, slots=True)
class ApiKey:
    ak: str
    sk: str
    vdn_ids: frozenset[int]


def create_key(conn: Connection, box: SecretBox, vdn_ids: list[int], now_ms: int) -> ApiKey:
    ak = secrets.token_hex(10).upper()
    sk = secrets.token_hex(24)
    conn.execute(api_keys.insert().values(ak=ak, sk_encrypted=box.encrypt(sk), created_at=now_ms))
    conn.execute(api_key_vdns.insert(), [{"ak": ak, "vdn_id": vdn} for vdn in sorted(set(vdn_ids))])
    return ApiKey(ak, sk, frozenset(vdn_ids))


# The signed-request path runs these on every request: plain SQL, compiled once.
_ACTIVE_KEY_SQL = sa.text("SELECT sk_encrypted FROM api_keys WHERE ak = :ak AND revoked_at IS NULL")
_KEY_VDNS_SQL = sa.text("SELECT vdn_id FROM api_key_vdns WHERE ak = :ak")
_CONSUME_SQL = sa.text(
    "INSERT INTO used_signatures (signature, expires_at) VALUES (:signature, :expires_at) "
    "ON CONFLICT DO NOTHING RETURNING signature"
)
_PRUNE_SQL = sa.text("DELETE FROM used_signatures WHERE expires_at < :now")
_PRUNE_EVERY_MS = 60_000

# Decrypted keys by (ak, ciphertext). A key's VDNs never change after creation, and the row is read on every
# request, so a revocation still takes effect at once; only the decryption and the VDN query are saved.
_decrypted: dict[tuple[str, str], ApiKey] = {}
_next_prune_at = 0


def find_active_key(conn: Connection, box: SecretBox, ak: str) -> ApiKey | None:
    encrypted = conn.execute(_ACTIVE_KEY_SQL, {"ak": ak}).scalar()
    if encrypted is None:
        return None
    cached = _decrypted.get((ak, encrypted))
    if cached is None:
        vdns = conn.execute(_KEY_VDNS_SQL, {"ak": ak}).scalars().all()
        cached = ApiKey(ak, box.decrypt(encrypted), frozenset(vdns))
        if len(_decrypted) > 10_000:
            _decrypted.clear()
        _decrypted[(ak, encrypted)] = cached
    return cached


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
        conn.execute(_PRUNE_SQL, {"now": now_ms})
        _next_prune_at = now_ms + _PRUNE_EVERY_MS
    inserted = conn.execute(_CONSUME_SQL, {"signature": signature, "expires_at": expires_at}).first()
    return inserted is not None


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
