"""`outdial simulate`: a working day of one predictive campaign, in virtual time, on the built-in simulator."""

from __future__ import annotations

from typing import Annotated

import typer


def simulate(
    numbers: Annotated[int, typer.Option(help="Numbers in the campaign")] = 10_000,
    agents: Annotated[int, typer.Option(help="Simulated agents on its skill queue")] = 20,
    hours: Annotated[float, typer.Option(help="Length of the working day, from 09:00")] = 8.0,
    outbound_rate: Annotated[int, typer.Option(help="expPredictParam.outBoundRate, percent (0-100)")] = 25,
    seed: Annotated[int, typer.Option(help="Simulator seed: same seed, same day")] = 0,
    tick_ms: Annotated[int, typer.Option(help="Look at most once per tick (0: at every event)")] = 0,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: a temporary SQLite file)")] = None,
) -> None:
    """Dial a campaign over a working day in virtual time and print its outcome mix, agent occupancy and
    abandonment rate. The world is PacingBench's (docs/telephony.md); the engine, database and every
    attempt are real."""
    from outdial.engine.simulation import format_report
    from outdial.engine.simulation import simulate as run_day

    if numbers < 1 or agents < 0 or not 0 <= outbound_rate <= 100 or tick_ms < 0:
        typer.echo("--numbers >= 1, --agents >= 0, --outbound-rate 0-100 and --tick-ms >= 0", err=True)
        raise typer.Exit(2)
    try:
        report = run_day(
            numbers=numbers,
            agents=agents,
            hours=hours,
            seed=seed,
            outbound_rate=outbound_rate,
            database_url=db,
            tick_ms=tick_ms,
        )
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    typer.echo(format_report(report))
