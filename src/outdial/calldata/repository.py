"""SQL of the call-data domain: call records (one at a time and in bulk), the blacklist, the calls made to
blacklisted numbers, and the database-held rate limits."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from outdial.calldata.blacklist_rules import PER_DAY, PER_HOUR, BlacklistEntry, period_bounds
from outdial.calldata.records import CallRecord
from outdial.db import run_sql
from outdial.models import calldata as cd
from outdial.models.calldata import blacklist, call_data
from outdial.models.engine import attempts

_IN_CHUNK = 500  # bound the size of IN (...) lists (SQLite's variable limit, plan size)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- campaigns ------------------------------------------------------------------------------------------


class LockedCampaign(NamedTuple):
    """What adding and importing numbers read of their campaign."""

    id: int
    vdn_id: int
    status: int
    begin_at: int
    end_at: int
    timezone: str
    deleted_at: int | None


_LOCK_CAMPAIGN = (
    "SELECT id, vdn_id, status, begin_at, end_at, timezone, deleted_at FROM campaigns WHERE id = ?"
)
_LOCK_CAMPAIGN_PG = _LOCK_CAMPAIGN + " FOR UPDATE"


def lock_campaign(conn: Connection, campaign_id: int) -> LockedCampaign | None:
    """The campaign row (deleted or not: callers check deleted_at and vdn_id), locked FOR UPDATE on
    PostgreSQL so that the adds and imports of one campaign run one after the other (their duplicate and
    200,000-number checks read what the other writes). SQLite write transactions are exclusive already.
    Plain SQL on the driver: the add-numbers path runs it on every request."""
    query = _LOCK_CAMPAIGN_PG if conn.dialect.name == "postgresql" else _LOCK_CAMPAIGN
    rows = run_sql(conn, query, (campaign_id,))
    return LockedCampaign(*rows[0]) if rows else None


# --- records --------------------------------------------------------------------------------------------


# The add-numbers path runs these on every request, as plain SQL on the driver (db.run_sql).
_COUNT_UNFINISHED = "SELECT count(*) FROM call_data WHERE campaign_id = ? AND state IN ({})".format(
    ", ".join(str(int(state)) for state in cd.UNFINISHED_STATES)
)
# The state is filtered in Python, not in SQL: with `state IN (...)` in the WHERE clause SQLite (without
# statistics) walks ix_call_data_pick, i.e. every unfinished record of the campaign, instead of looking
# the numbers up in ix_call_data_called.
_CALLED_STATES = "SELECT called, state FROM call_data WHERE campaign_id = ? AND called IN ({})"
# PostgreSQL: one array parameter (= ANY) keeps the SQL text the same for any count of numbers, so
# psycopg prepares it once per connection instead of PostgreSQL planning a new IN list every time.
_CALLED_STATES_PG = "SELECT called, state FROM call_data WHERE campaign_id = ? AND called = ANY(?)"


def _in_list(
    conn: Connection, sql_in: str, sql_any: str, fixed: tuple[Any, ...], values: Sequence[str]
) -> list[tuple[Any, ...]]:
    """`sql_in` with its IN ({}) filled with one placeholder per value (SQLite), or `sql_any` with the values
    as one array parameter (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return run_sql(conn, sql_any, (*fixed, list(values)))
    return run_sql(conn, sql_in.format(", ".join("?" * len(values))), (*fixed, *values))


def count_unfinished(conn: Connection, campaign_id: int) -> int:
    """Records still to be called (WAITING or IN_PROGRESS): the 200,000 limit and the add's totalSize."""
    return int(run_sql(conn, _COUNT_UNFINISHED, (campaign_id,))[0][0])


def unfinished_called_numbers(conn: Connection, campaign_id: int) -> set[str]:
    """The first called number of every unfinished record of the campaign (the importer's duplicates)."""
    rows = conn.execute(
        sa.select(call_data.c.called).where(
            call_data.c.campaign_id == campaign_id, call_data.c.state.in_(cd.UNFINISHED_STATES)
        )
    )
    return {row[0] for row in rows}


def unfinished_among(conn: Connection, campaign_id: int, numbers: Sequence[str]) -> set[str]:
    """Which of `numbers` are already the called number of an unfinished record of the campaign."""
    found: set[str] = set()
    for chunk in _chunks(numbers):
        rows = _in_list(conn, _CALLED_STATES, _CALLED_STATES_PG, (campaign_id,), chunk)
        found.update(called for called, state in rows if state in cd.UNFINISHED_STATES)
    return found


class _LocalTimes:
    """'yyyy-MM-dd HH:mm:ss' of one zone -> epoch ms, cached: a file's rows often share a recycle time."""

    def __init__(self, tz: str) -> None:
        self.zone = ZoneInfo(tz)
        self.cache: dict[str, int] = {}

    def __call__(self, text: str | None) -> int | None:
        if text is None:
            return None
        at = self.cache.get(text)
        if at is None:
            local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=self.zone)
            at = self.cache[text] = (local - _EPOCH) // _MS
        return at


def _numbers_json(record: CallRecord) -> str | None:
    """NULL for the common single plain number (see models/calldata.py), else [[calledNo, type, delay]]."""
    numbers = record.numbers
    if len(numbers) == 1 and numbers[0].type is None and numbers[0].delay_s == 0:
        return None
    return json.dumps([[n.called, n.type, n.delay_s] for n in numbers], separators=(",", ":"))


_ROW_COLUMNS = ("session_id", "called", "numbers", "caller", "call_data", "custom_field", "recycle_at")
_BULK_COLUMNS = (
    "campaign_id",
    "vdn_id",
    "session_id",
    "called",
    "numbers",
    "caller",
    "call_data",
    "custom_field",
    "recycle_at",
    "next_due_at",
    "import_task_id",
    "created_at",
)


def _bulk_rows(
    campaign: LockedCampaign, records: Iterable[CallRecord], import_task_id: str | None, now_ms: int
) -> Iterator[tuple[Any, ...]]:
    """The columns that differ per row (_ROW_COLUMNS); the others are the same for every row of an
    import and are written into the statement (bulk_insert_blocks): fewer values to pickle, pass
    between the processes and bind (~0.2 s per 500,000 rows)."""
    recycle_at = _LocalTimes(campaign.timezone)
    for r in records:
        numbers = r.numbers
        first = numbers[0]
        plain = len(numbers) == 1 and first.type is None and first.delay_s == 0
        recycle = r.recycle_time
        yield (
            r.session_id,
            first.called,
            None if plain else _numbers_json(r),
            r.caller,
            r.call_data,
            r.custom_field,
            None if recycle is None else recycle_at(recycle),
        )


# COPY text format (PostgreSQL): a tab between columns, a newline after each row, \N for NULL, and a
# backslash, tab, newline or carriage return inside a value escaped. The lines are formatted here and
# written in blocks: psycopg's copy.write_row costs several times more per row. Both drivers' rows go
# in blocks of this many (bulk_blocks), which another process can format and pass on.
_BULK_BLOCK_ROWS = 5000
_SQLITE_ROWS_PER_INSERT = 100
_SQLITE_FEW_ROWS_PER_INSERT = 80  # x 12 parameters: within SQLite's old limit of 999
_SQLITE_IMPORT_CACHE_KIB = 64 * 1024
_INSERT_VALUES = f"INSERT INTO call_data ({', '.join(_BULK_COLUMNS)}) VALUES "  # then the rows' (...)


def copy_value(text: str | None) -> str:
    """A value as COPY's text format writes it (see above)."""
    if text is None:
        return "\\N"
    if "\\" in text or not text.isprintable():  # isprintable is False for tab, newline and CR
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def copy_line_ends(campaign: LockedCampaign, import_task_id: str | None, now_ms: int) -> tuple[str, str]:
    """The COPY line's text before the row's own values (campaign_id, vdn_id) and after them
    (next_due_at, import_task_id, created_at, the newline): the same for every row of an import."""
    return f"{campaign.id}\t{campaign.vdn_id}\t", f"\t{now_ms}\t{copy_value(import_task_id)}\t{now_ms}\n"


def _copy_lines(
    campaign: LockedCampaign, records: Iterable[CallRecord], import_task_id: str | None, now_ms: int
) -> Iterator[str]:
    """The rows of _bulk_rows as COPY text lines."""
    head, tail = copy_line_ends(campaign, import_task_id, now_ms)
    recycle_at = _LocalTimes(campaign.timezone)
    text, null = copy_value, "\\N"
    for r in records:
        numbers = r.numbers
        first = numbers[0]
        plain = len(numbers) == 1 and first.type is None and first.delay_s == 0
        recycle = r.recycle_time
        yield (  # called is only digits, * and # (validated): nothing to escape
            f"{head}{text(r.session_id)}\t{first.called}\t{null if plain else text(_numbers_json(r))}"
            f"\t{text(r.caller)}\t{text(r.call_data)}\t{text(r.custom_field)}"
            f"\t{null if recycle is None else recycle_at(recycle)}{tail}"
        )


def bulk_insert_records(
    conn: Connection,
    campaign: LockedCampaign,
    records: Iterable[CallRecord],
    *,
    import_task_id: str | None,
    now_ms: int,
) -> None:
    """Store validated records as WAITING, inside the caller's transaction, through the driver itself
    (bulk_insert_blocks: multi-row INSERTs on SQLite, COPY on PostgreSQL; the same connection, so the
    same transaction).
    `records` is iterated once, so a stream keeps memory flat however many there are."""
    if isinstance(records, Sequence) and not records:
        return
    blocks = bulk_blocks(conn.dialect.name, campaign, records, import_task_id=import_task_id, now_ms=now_ms)
    bulk_insert_blocks(conn, blocks, campaign=campaign, import_task_id=import_task_id, now_ms=now_ms)


def bulk_blocks(
    dialect: str,
    campaign: LockedCampaign,
    records: Iterable[CallRecord],
    *,
    import_task_id: str | None,
    now_ms: int,
) -> Iterator[Any]:
    """The records formatted for bulk_insert_blocks, _BULK_BLOCK_ROWS at a time: COPY text as bytes on
    PostgreSQL; on SQLite, flat lists of values, _ROW_COLUMNS after _ROW_COLUMNS (the parameters of the
    multi-row INSERTs as they are). Separate from the writing so that another process can format while
    this one writes (imports/pipeline.py); both are picklable."""
    if dialect == "postgresql":
        lines = _copy_lines(campaign, records, import_task_id, now_ms)
        while block := list(islice(lines, _BULK_BLOCK_ROWS)):
            yield "".join(block).encode()
    else:
        rows = _bulk_rows(campaign, records, import_task_id, now_ms)
        while chunk := list(chain.from_iterable(islice(rows, _BULK_BLOCK_ROWS))):
            yield chunk


def bulk_insert_blocks(
    conn: Connection,
    blocks: Iterable[Any],
    *,
    campaign: LockedCampaign,
    import_task_id: str | None,
    now_ms: int,
    large: bool = False,
) -> None:
    """Write bulk_blocks' blocks (made with the same campaign, task and time) as WAITING records, inside
    the caller's transaction, through the driver itself (multi-row INSERTs on SQLite, COPY on
    PostgreSQL: the same connection, so the same transaction). `large`: a file's worth of rows (an
    import), written the way that suits many rows on SQLite (_sqlite_insert_file); otherwise the way
    that suits an add's few (_sqlite_insert_few)."""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        cursor = driver.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(f"COPY call_data ({', '.join(_BULK_COLUMNS)}) FROM STDIN") as copy:
            for block in blocks:
                copy.write(block)
    elif large:
        _sqlite_insert_file(driver.execute, blocks, campaign, import_task_id, now_ms)  # type: ignore[union-attr]
    else:
        _sqlite_insert_few(driver.execute, blocks, campaign, import_task_id, now_ms)  # type: ignore[union-attr]


def _sqlite_insert_file(
    execute: Any,
    blocks: Iterable[list[Any]],
    campaign: LockedCampaign,
    import_task_id: str | None,
    now_ms: int,
) -> None:
    """A file's rows: the columns that are the same for every row written into the statement (fewer
    values to bind), _SQLITE_ROWS_PER_INSERT rows per statement (sqlite3's executemany costs ~2 µs per
    row around SQLite's own work, about a third of a 500,000-row import's insert; 700 parameters are
    within even old SQLite's limit of 999)."""
    # next_due_at = now: due at once, ordered after retries already due (pick order: next_due_at, id)
    task = "NULL" if import_task_id is None else "'" + import_task_id.replace("'", "''") + "'"
    same = f"{int(campaign.id)}, {int(campaign.vdn_id)}"
    one = f"({same}, {', '.join('?' for _ in _ROW_COLUMNS)}, {int(now_ms)}, {task}, {int(now_ms)})"
    width, rows_per = len(_ROW_COLUMNS), _SQLITE_ROWS_PER_INSERT
    full, step = _INSERT_VALUES + ",".join([one] * rows_per), width * rows_per
    # A larger page cache meanwhile: with SQLite's default (2 MB) the pages still being filled (the last
    # leaf of the table and of each index) are spilled to the WAL again and again before the commit
    # (~0.3 s per 500,000 rows). Given back afterwards: the connection returns to the pool.
    cache_pages = execute("PRAGMA cache_size").fetchone()[0]
    execute(f"PRAGMA cache_size=-{_SQLITE_IMPORT_CACHE_KIB}")
    try:
        for block in blocks:
            whole = len(block) - len(block) % step
            for start in range(0, whole, step):
                execute(full, block[start : start + step])
            if whole < len(block):
                execute(_INSERT_VALUES + ",".join([one] * ((len(block) - whole) // width)), block[whole:])
    finally:
        execute(f"PRAGMA cache_size={int(cache_pages)}")


def _sqlite_insert_few(
    execute: Any,
    blocks: Iterable[list[Any]],
    campaign: LockedCampaign,
    import_task_id: str | None,
    now_ms: int,
) -> None:
    """A few rows (an add's): every value a parameter, so a statement's text depends only on its number
    of rows and SQLite's prepared statement serves every add of that size (with the constants written
    in, each add's statement would be prepared anew: ~150 µs more for 20 rows)."""
    width, most = len(_ROW_COLUMNS), _SQLITE_FEW_ROWS_PER_INSERT
    same, tail = (campaign.id, campaign.vdn_id), (now_ms, import_task_id, now_ms)
    for block in blocks:
        for start in range(0, len(block), width * most):
            part = block[start : start + width * most]
            params: list[Any] = []
            for i in range(0, len(part), width):
                params += same
                params += part[i : i + width]
                params += tail
            execute(_insert_statement(len(part) // width), params)


@functools.lru_cache(maxsize=_SQLITE_FEW_ROWS_PER_INSERT)
def _insert_statement(rows: int) -> str:
    one = "(" + ", ".join("?" for _ in _BULK_COLUMNS) + ")"
    return _INSERT_VALUES + ", ".join([one] * rows)


def call_policy_of(conn: Connection, campaign_id: int) -> dict[str, Any] | None:
    """The campaign's normalized callPolicy (None: by sequence)."""
    rows = run_sql(conn, "SELECT spec FROM campaigns WHERE id = ?", (campaign_id,))
    if not rows:
        return None
    spec = rows[0][0]
    spec = json.loads(spec) if isinstance(spec, str) else spec
    policy = spec.get("callPolicy") if isinstance(spec, dict) else None
    return policy if isinstance(policy, dict) else None


def stored_numbers_of(
    conn: Connection, campaign_id: int, import_task_ids: Sequence[str] | None = None
) -> Iterator[tuple[str | None, str | None]]:
    """(import task id, stored numbers) of each record of the campaign (deleted ones left out), or of
    those import tasks only, streamed; stored numbers are call_data.numbers, NULL for one number without
    a type."""
    query = sa.select(call_data.c.import_task_id, call_data.c.numbers).where(
        call_data.c.campaign_id == campaign_id, call_data.c.state != cd.DELETED
    )
    if import_task_ids is not None:
        query = query.where(call_data.c.import_task_id.in_(import_task_ids))
    for row in conn.execute(query.execution_options(yield_per=10_000)):
        yield row.import_task_id, row.numbers


def get_record(conn: Connection, campaign_id: int, data_id: int) -> Row | None:
    """One record of the campaign (DELETED ones included: they are kept as history)."""
    return conn.execute(
        sa.select(call_data).where(call_data.c.id == data_id, call_data.c.campaign_id == campaign_id)
    ).first()


def _deletable(campaign_id: int, where: Sequence[sa.ColumnElement[bool]]) -> list[sa.ColumnElement[bool]]:
    # Only numbers not yet called: IN_PROGRESS ones are being called and the others are finished.
    return [call_data.c.campaign_id == campaign_id, call_data.c.state == cd.WAITING, *where]


def delete_waiting(
    conn: Connection, campaign_id: int, where: Sequence[sa.ColumnElement[bool]], *, archive: bool, now_ms: int
) -> int:
    """Delete the campaign's WAITING records matching `where`: remove them, or keep them as history in
    state DELETED (`archive`). Returns how many."""
    condition = _deletable(campaign_id, where)
    if archive:
        result = conn.execute(
            call_data.update().where(*condition).values(state=cd.DELETED, finished_at=now_ms)
        )
    else:
        result = conn.execute(call_data.delete().where(*condition))
    return int(result.rowcount)


# --- blacklist ------------------------------------------------------------------------------------------


_BLACKLIST_COLUMNS = (
    "SELECT number, expires_at, restrict_times, restrict_period FROM blacklist WHERE vdn_id = ?"
)
_BLACKLIST_ENTRIES = _BLACKLIST_COLUMNS + " AND number IN ({})"
_BLACKLIST_ENTRIES_PG = _BLACKLIST_COLUMNS + " AND number = ANY(?)"


def blacklist_entries(conn: Connection, vdn_id: int, numbers: Iterable[str]) -> dict[str, BlacklistEntry]:
    """The VDN's blacklist entries of these numbers (expired ones included: may_call tells them apart)."""
    wanted = sorted(set(numbers))
    found: dict[str, BlacklistEntry] = {}
    for chunk in _chunks(wanted):
        for row in _in_list(conn, _BLACKLIST_ENTRIES, _BLACKLIST_ENTRIES_PG, (vdn_id,), chunk):
            found[row[0]] = BlacklistEntry(*row)
    return found


def call_times(conn: Connection, vdn_id: int, numbers: Iterable[str], since_ms: int) -> dict[str, list[int]]:
    """When each number was called by any campaign of the VDN, from `since_ms` on (every attempt counts,
    open or closed, whatever its result)."""
    wanted = sorted(set(numbers))
    times: dict[str, list[int]] = {}
    for chunk in _chunks(wanted):
        rows = conn.execute(
            sa.select(attempts.c.called, attempts.c.created_at).where(
                attempts.c.vdn_id == vdn_id, attempts.c.called.in_(chunk), attempts.c.created_at >= since_ms
            )
        )
        for called, at in rows:
            times.setdefault(called, []).append(at)
    return times


def blacklist_refusals_map(conn: Connection, vdn_id: int, tz: str, now_ms: int) -> dict[str, str]:
    """Every number of the VDN's blacklist that may NOT be called at `now_ms`, with the reason (for the
    importer's failed rows). The same rule as blacklist_rules.may_call, as two set queries so that a
    large blacklist costs no per-number round trip: an active entry without a restriction refuses; one
    with a restriction refuses once its calls in the current calendar period reach restrictTimes."""
    active = sa.and_(
        blacklist.c.vdn_id == vdn_id,
        sa.or_(blacklist.c.expires_at.is_(None), blacklist.c.expires_at > now_ms),
    )
    refusals: dict[str, str] = {}
    for (number,) in conn.execute(
        sa.select(blacklist.c.number).where(active, blacklist.c.restrict_times.is_(None))
    ):
        refusals[number] = f"called: {number} is in the blacklist"
    for period, name in ((PER_HOUR, "hour"), (PER_DAY, "day")):
        start, end = period_bounds(now_ms, period, tz)
        made = sa.func.count(attempts.c.id)
        rows = conn.execute(
            sa.select(blacklist.c.number, blacklist.c.restrict_times, made)
            .select_from(
                blacklist.join(
                    attempts,
                    sa.and_(
                        attempts.c.vdn_id == blacklist.c.vdn_id,
                        attempts.c.called == blacklist.c.number,
                        attempts.c.created_at >= start,
                        attempts.c.created_at < end,
                    ),
                )
            )
            .where(active, blacklist.c.restrict_period == period)
            .group_by(blacklist.c.number, blacklist.c.restrict_times)
            .having(made >= blacklist.c.restrict_times)
        )
        for number, times, _ in rows:
            refusals[number] = (
                f"called: {number} is in the blacklist and was already called {times} time(s) this {name}"
            )
    return refusals


def upsert_blacklist(
    conn: Connection, vdn_id: int, entries: Sequence[dict[str, Any]], *, overwrite: bool
) -> None:
    """Insert entries (dicts with number, expires_at, restrict_times, restrict_period, created_at); an
    existing number is overwritten when `overwrite`, else left as it is."""
    if not entries:
        return
    rows = [{"vdn_id": vdn_id, **entry} for entry in entries]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt: Any = insert(blacklist)
    if overwrite:
        stmt = stmt.on_conflict_do_update(
            index_elements=[blacklist.c.vdn_id, blacklist.c.number],
            set_={
                name: stmt.excluded[name]
                for name in ("expires_at", "restrict_times", "restrict_period", "created_at")
            },
        )
    else:
        stmt = stmt.on_conflict_do_nothing()
    conn.execute(stmt, rows)


def delete_blacklist_number(conn: Connection, vdn_id: int, number: str) -> int:
    result = conn.execute(
        blacklist.delete().where(blacklist.c.vdn_id == vdn_id, blacklist.c.number == number)
    )
    return int(result.rowcount)


def delete_blacklist(conn: Connection, vdn_id: int) -> int:
    return int(conn.execute(blacklist.delete().where(blacklist.c.vdn_id == vdn_id)).rowcount)


def purge_expired_blacklist(conn: Connection, vdn_id: int, now_ms: int) -> None:
    """Expired entries are no longer blacklisted: removed when the VDN's blacklist is next written, so
    they neither count as "already blacklisted" nor show in queries."""
    conn.execute(
        blacklist.delete().where(
            blacklist.c.vdn_id == vdn_id,
            blacklist.c.expires_at.is_not(None),
            blacklist.c.expires_at <= now_ms,
        )
    )


def _active(vdn_id: int, now_ms: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        blacklist.c.vdn_id == vdn_id,
        sa.or_(blacklist.c.expires_at.is_(None), blacklist.c.expires_at > now_ms),
    )


def active_blacklist_numbers(conn: Connection, vdn_id: int, numbers: Sequence[str], now_ms: int) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(numbers):
        rows = conn.execute(
            sa.select(blacklist.c.number).where(_active(vdn_id, now_ms), blacklist.c.number.in_(chunk))
        )
        found.update(row[0] for row in rows)
    return found


def blacklist_page(
    conn: Connection, vdn_id: int, now_ms: int, offset: int, limit: int
) -> tuple[int, Sequence[Row]]:
    """(active entries in all, one page of them in number order)."""
    where = _active(vdn_id, now_ms)
    total = conn.execute(sa.select(sa.func.count()).select_from(blacklist).where(where)).scalar_one()
    rows = conn.execute(
        sa.select(blacklist).where(where).order_by(blacklist.c.number).offset(offset).limit(limit)
    ).all()
    return int(total), rows


def active_blacklist_rows(
    conn: Connection, vdn_id: int, numbers: Sequence[str], now_ms: int
) -> dict[str, Row]:
    found: dict[str, Row] = {}
    for chunk in _chunks(numbers):
        for row in conn.execute(
            sa.select(blacklist).where(_active(vdn_id, now_ms), blacklist.c.number.in_(chunk))
        ):
            found[row.number] = row
    return found


# --- rate limits ----------------------------------------------------------------------------------------


_CLAIM_SLOT = (
    "INSERT INTO rate_limits (key, last_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
    "SET last_at = excluded.last_at WHERE rate_limits.last_at <= excluded.last_at - ? RETURNING key"
)


def claim_slot(conn: Connection, key: str, now_ms: int, min_interval_ms: int) -> bool:
    """Take the rate-limit slot `key` at `now_ms` when its last taking is at least `min_interval_ms` ago;
    False when it is too soon. One conditional upsert, atomic across processes: on PostgreSQL a
    concurrent claim of the same key waits for this transaction and then re-checks the condition against
    the committed row. The claim is part of the caller's transaction, so a refused request (rolled back)
    gives the slot back."""
    return bool(run_sql(conn, _CLAIM_SLOT, (key, now_ms, min_interval_ms)))
