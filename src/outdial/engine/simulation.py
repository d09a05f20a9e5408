"""A whole working day of one campaign in virtual time (`outdial simulate`, bench/engine_throughput.py):
a predictive campaign of N numbers on a skill queue of M simulated agents, dialed by the real Engine on a
real database (a temporary SQLite file unless a URL is given), every attempt written and closed."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from outdial.calldata import repository as calldata_repo
from outdial.calldata.records import CalledNumber, CallRecord
from outdial.campaigns import service as campaigns
from outdial.clock import VirtualClock, from_datetime
from outdial.config import Settings
from outdial.context import AppContext
from outdial.db import Database
from outdial.engine.runner import Engine
from outdial.engine.telephony import Simulator, SimulatorConfig
from outdial.engine.telephony.simulator import DEFAULT_DETECT_DELAY_S
from outdial.migrate import upgrade
from outdial.models.foundation import campaigns as campaign_table
from outdial.secretbox import SecretBox
from outdial.tenants import repository as tenants

DAY = "2026-11-23"  # a Monday; the shift starts at 09:00 UTC
SKILL = 2


@dataclass
class Report:
    numbers: int
    agents: int
    hours: float
    attempts: int = 0
    records_finished: int = 0
    person_answered: int = 0
    abandoned: int = 0
    agent_talk_s: float = 0.0
    by_outcome: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def occupancy(self) -> float:
        """Agent talk time over the agents' shift time."""
        return self.agent_talk_s / (self.agents * self.hours * 3600) if self.agents else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.person_answered if self.person_answered else 0.0

    @property
    def attempts_per_s(self) -> float:
        return self.attempts / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms_per_attempt(self) -> float:
        return 1000 * self.cpu_s / self.attempts if self.attempts else 0.0


def campaign_body(hours: float, outbound_rate: int) -> dict[str, object]:
    end_minute = 9 * 60 + round(hours * 60) - 1
    return {
        "name": "simulated",
        "strBeginTime": f"{DAY} 00:00:00",
        "strEndTime": f"{DAY} 23:59:59",
        "deviceType": 2,
        "callerNo": [{"accessCode": "88880000", "priority": 1}],
        "maxAlertingTime": 20,
        "scheduleParam": {
            "workdayBeginTime1": "09:00",
            "workdayEndTime1": f"{end_minute // 60:02d}:{end_minute % 60:02d}",
        },
        "skillParam": {
            "skillId": SKILL,
            "skillName": "simulated",
            "outBoundType": 2,
            "predictParam": {
                "predictMethod": 1,
                "expPredictParam": {
                    "maxAvgCallTime": 200,
                    "minAvgCallTime": 50,
                    "outBoundRate": outbound_rate,
                },
            },
        },
        "retryPolicy": {"policyType": 0, "retryDay": 1, "retryTimes": 3, "callInterval": 600},
        "timeZone": "UTC",
        "callBackUrl": "https://127.0.0.1/results",
    }


def simulate(
    *,
    numbers: int = 10_000,
    agents: int = 20,
    hours: float = 8.0,
    seed: int = 0,
    outbound_rate: int = 25,
    database_url: str | None = None,
    tick_ms: int = 0,
    detect_delay_s: float = DEFAULT_DETECT_DELAY_S,
) -> Report:
    """Run the day and report. The PacingBench world (docs/telephony.md): person 25%, machine 15%, no answer
    40%, busy or vacant 20%; answer 10 s +- 5 s; talk 120 s, CV 1; wrap-up 15 s; who answered known
    `detect_delay_s` after the answer; abandoned 2 s after that."""
    if not 0 < hours <= 15:
        raise ValueError("hours must be within (0, 15]: the shift starts at 09:00 and ends the same day")
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'simulate.db'}"
        db = Database(url)
        upgrade(db)
        start = from_datetime(datetime.fromisoformat(f"{DAY} 09:00:00").replace(tzinfo=ZoneInfo("UTC")))
        clock = VirtualClock(start)
        settings = Settings(data_dir=Path(tmp), timezone="UTC", database_url=url)
        ctx = AppContext(settings=settings, db=db, clock=clock, box=SecretBox.from_settings("", Path(tmp)))
        with ctx.db.write() as conn:
            vdn = 1 + (conn.execute(sa.select(sa.func.max(campaign_table.c.vdn_id))).scalar() or 0)  # its own
            tenants.add_skill_queue(conn, vdn, SKILL, "simulated", start)
            campaign_id = campaigns.add_campaign(
                conn, vdn, campaign_body(hours, outbound_rate), now_ms=start, default_tz="UTC"
            )
            campaign = calldata_repo.lock_campaign(conn, campaign_id)
            assert campaign is not None
            records = [
                CallRecord(None, (CalledNumber(f"1{i:010d}", None, 0),), None, None, None, None)
                for i in range(numbers)
            ]
            calldata_repo.bulk_insert_records(conn, campaign, records, import_task_id=None, now_ms=start)
        config = SimulatorConfig.pacing_bench(
            agents=agents, skill_id=SKILL, seed=seed, detect_delay_s=detect_delay_s
        )
        port = Simulator(config, clock)
        engine = Engine(ctx, port, owner="simulate", refresh_ms=60_000)
        wall, cpu = time.perf_counter(), time.process_time()
        shift_end = start + round(hours * 3600 * 1000)
        engine.run_virtual(
            shift_end + 30 * 60 * 1000, tick_ms=tick_ms
        )  # calls of the last minute run to their end
        report = Report(numbers, agents, hours)
        report.wall_s, report.cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        stats = engine.stats
        report.attempts = stats.ended
        report.person_answered = stats.person_answered
        report.abandoned = stats.abandoned
        report.by_outcome = dict(sorted(stats.by_outcome.items(), key=lambda kv: -kv[1]))
        report.agent_talk_s = port.stats.agent_talk_ms / 1000
        with ctx.db.read() as conn:
            report.records_finished = calldata_repo.count_unfinished(conn, campaign_id)
        report.records_finished = numbers - report.records_finished
        db.dispose()
        return report


def format_report(report: Report) -> str:
    lines = [
        f"simulated {report.hours:g} h: {report.numbers} numbers, {report.agents} agents (virtual time)",
        f"attempts            {report.attempts}",
        f"records finished    {report.records_finished} of {report.numbers}",
        "outcome mix:",
    ]
    for outcome, count in report.by_outcome.items():
        share = count / report.attempts if report.attempts else 0
        lines.append(f"  {outcome:<16}  {count:>7}  {share:6.1%}")
    lines += [
        f"agent occupancy     {report.occupancy:.1%} (talk time / agents x shift)",
        f"abandonment rate    {report.abandon_rate:.2%} ({report.abandoned} of {report.person_answered} "
        "person answers; no agent within 2 s)",
        f"ran in              {report.wall_s:.1f} s wall, {report.cpu_s:.1f} s CPU "
        f"({report.attempts_per_s:,.0f} attempts/s)",
    ]
    return "\n".join(lines)
