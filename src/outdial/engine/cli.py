"""`outdial simulate`: a working day of one predictive campaign, in virtual time, on the built-in simulator.
`outdial resultcodes list/set`: a VDN's failCode -> resultCode map, straight on the database (like
`outdial keys`), with the rules of `PUT /rest/outdial/v1/{vdnId}/resultcodes`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from outdial.cli import DbOption

resultcodes_app = typer.Typer(
    no_args_is_help=True, help="What each failCode becomes as the resultCode of call results, per VDN"
)


@resultcodes_app.command("list")
def resultcodes_list(vdn: Annotated[int, typer.Option("--vdn", help="VDN ID")], db: DbOption = None) -> None:
    """Every failCode the engine writes (and every overridden one): its resultCode and default."""
    from outdial.cli import _context
    from outdial.engine import service

    ctx = _context(db)
    with ctx.db.read() as conn:
        for entry in service.result_codes(conn, vdn):
            typer.echo(json.dumps(entry))


@resultcodes_app.command("set")
def resultcodes_set(
    mappings: Annotated[list[str], typer.Argument(help="FAILCODE=RESULTCODE, or FAILCODE= for the default")],
    vdn: Annotated[int, typer.Option("--vdn", help="VDN ID")],
    db: DbOption = None,
) -> None:
    """Override resultCodes, e.g. `outdial resultcodes set --vdn 1 00537=BUSY 01040=NOANSWER 00548=`."""
    from outdial.cli import _context
    from outdial.engine import service
    from outdial.errors import ApiError

    entries = []
    for mapping in mappings:
        fail_code, sep, result_code = mapping.partition("=")
        if not sep:
            typer.echo(f"{mapping}: expected FAILCODE=RESULTCODE (FAILCODE= goes back to the default)", err=True)
            raise typer.Exit(2)
        entries.append({"failCode": fail_code, "resultCode": result_code})
    ctx = _context(db)
    try:
        with ctx.db.write() as conn:
            table = service.set_result_codes(conn, vdn, {"resultCodes": entries})
    except ApiError as error:
        typer.echo(f"{error.code}: {error.desc}", err=True)
        raise typer.Exit(1) from None
    for entry in table:
        if entry["overridden"]:
            typer.echo(json.dumps(entry))


def simulate(
    numbers: Annotated[int, typer.Option(help="Numbers in the campaign")] = 10_000,
    agents: Annotated[int, typer.Option(help="Simulated agents on its skill queue")] = 20,
    hours: Annotated[float, typer.Option(help="Length of the working day, from 09:00")] = 8.0,
    outbound_rate: Annotated[int, typer.Option(help="expPredictParam.outBoundRate, percent (0-100)")] = 25,
    seed: Annotated[int, typer.Option(help="Simulator seed: same seed, same day")] = 0,
    tick_ms: Annotated[int, typer.Option(help="Look at most once per tick (0: at every event)")] = 0,
    detect_delay: Annotated[
        float, typer.Option(help="Seconds from answer to the person / machine decision (0: at once)")
    ] = 1.8,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: a temporary SQLite file)")] = None,
) -> None:
    """Dial a campaign over a working day in virtual time and print its outcome mix, agent occupancy and
    abandonment rate. The world is PacingBench's (docs/telephony.md); the engine, database and every
    attempt are real."""
    from outdial.engine.simulation import format_report
    from outdial.engine.simulation import simulate as run_day

    if numbers < 1 or agents < 0 or not 0 <= outbound_rate <= 100 or tick_ms < 0 or detect_delay < 0:
        typer.echo(
            "--numbers >= 1, --agents >= 0, --outbound-rate 0-100, --tick-ms >= 0 and --detect-delay >= 0",
            err=True,
        )
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
            detect_delay_s=detect_delay,
        )
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    typer.echo(format_report(report))
