"""A campaign as the runner sees it: its stored spec turned into the inputs of the pure decision functions
(schedule.py, callpolicy.py, retry.py, pacing/), loaded once per change of the campaign row."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Row

from outdial.clock import to_datetime
from outdial.engine import repository as repo


@dataclass(frozen=True, slots=True)
class Number:
    called: str
    type: str | None
    delay_s: int


@dataclass(frozen=True, slots=True)
class Observed:
    """What pacing sees of one campaign at one instant."""

    now_ms: int
    calls_in_progress: int
    recent_dials: int
    recent_answers: int
    recent_abandons: int
    recent_talk_seconds: tuple[float, ...]
    agents: Any  # the port's agent counts for the campaign's skill queue; None for IVR campaigns


@dataclass(frozen=True, slots=True)
class Wanted:
    count: int
    next_check_at: int


@dataclass(frozen=True, slots=True)
class Decision:
    state: int  # call_data state: WAITING again, FINISHED or RECYCLED
    due_ms: int
    number_index: int


def numbers_of(row: Row) -> list[Number]:
    """A record's called numbers in order. `numbers` is NULL for a single plain number."""
    if not row.numbers:
        return [Number(row.called, None, 0)]
    return [Number(str(n[0]), n[1], int(n[2] or 0)) for n in json.loads(row.numbers)]


class CampaignPlan:
    def __init__(
        self,
        row: Row,
        callers: list[tuple[str, int]],
        holidays: list[dict[str, Any]],
        result_code_overrides: dict[str, str],
    ) -> None:
        self.row = row
        self.campaign_id: int = row.id
        self.vdn_id: int = row.vdn_id
        self.timezone: str = row.timezone
        self.zone = ZoneInfo(row.timezone)
        self.begin_at: int = row.begin_at
        self.end_at: int = row.end_at
        self.updated_at: int = row.updated_at
        self.device_type: int = row.device_type
        self.skill_id: int | None = row.skill_id
        self.spec: dict[str, Any] = row.spec if isinstance(row.spec, dict) else json.loads(row.spec)
        self.callers = callers
        self.holidays = holidays
        self.result_code_overrides = result_code_overrides
        self.max_alerting_s: int = int(self.spec.get("maxAlertingTime") or 30)

    @classmethod
    def load(cls, conn: Connection, row: Row) -> CampaignPlan:
        return cls(
            row,
            repo.callers(conn, row.id),
            repo.holidays(conn, row.id),
            repo.result_code_overrides(conn, row.vdn_id),
        )

    def local_day(self, now_ms: int) -> str:
        return to_datetime(now_ms).astimezone(self.zone).strftime("%Y-%m-%d")

    def local_time(self, now_ms: int) -> datetime:
        return to_datetime(now_ms).astimezone(self.zone)

    def numbers_of(self, row: Row) -> list[Number]:
        return numbers_of(row)
