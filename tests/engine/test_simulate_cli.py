"""`outdial simulate`: a small day in virtual time prints its outcome mix, occupancy and abandonment, and the
figures agree with each other (every attempt counted once in the mix)."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from outdial.cli import app, cli_groups


def test_simulate_prints_outcome_mix_occupancy_and_abandonment():
    cli_groups()
    result = CliRunner().invoke(app, ["simulate", "--numbers", "300", "--agents", "3", "--hours", "0.5"])
    assert result.exit_code == 0, result.output
    out = result.output
    attempts = int(re.search(r"attempts\s+(\d+)", out).group(1))
    mix = {m.group(1): int(m.group(2)) for m in re.finditer(r"^  (\w+)\s+(\d+)\s+[\d.]+%$", out, re.M)}
    assert attempts > 0 and sum(mix.values()) == attempts
    assert set(mix) <= {"connected", "abandoned", "machine", "no_answer", "busy", "vacant"}
    occupancy = float(re.search(r"agent occupancy\s+([\d.]+)%", out).group(1))
    assert 0 < occupancy < 100
    abandoned, answered = map(int, re.search(r"\((\d+) of (\d+) person answers", out).groups())
    assert abandoned == mix.get("abandoned", 0) and answered == mix.get("connected", 0) + abandoned


def test_simulate_refuses_impossible_options():
    cli_groups()
    result = CliRunner().invoke(app, ["simulate", "--hours", "20"])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["simulate", "--detect-delay", "-1"])
    assert result.exit_code == 2 and "--detect-delay >= 0" in result.output
