"""The `outdial` command line. Commands are grouped by role; each domain adds its group in cli_groups()."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

import typer

from outdial.clock import RealClock
from outdial.config import Settings, get_settings
from outdial.tenants import repository as tenants

app = typer.Typer(no_args_is_help=True, add_completion=False, help="outdial: outbound campaign engine")
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
keys_app = typer.Typer(no_args_is_help=True, help="API keys (AK/SK) bound to VDNs")
skills_app = typer.Typer(no_args_is_help=True, help="Skill queues of a VDN")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(skills_app, name="skills")


def _settings(db: str | None) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"database_url": db}) if db else settings


DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: OUTDIAL_DATABASE_URL or SQLite)")
]


def _context(db: str | None):  # type: ignore[no-untyped-def]
    from outdial.runtime import build_context

    return build_context(_settings(db))


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    db: DbOption = None,
    speed: Annotated[
        float,
        typer.Option(
            min=0.001, help="Run the clock N times faster than real time (demos); a restart continues it"
        ),
    ] = 1.0,
    reset_clock: Annotated[
        bool, typer.Option(help="Drop an earlier --speed run's timeline and start from real time")
    ] = False,
    demo: Annotated[
        bool, typer.Option(help="Create a demo tenant, campaign and agents if none exist")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Server processes sharing the port (the API scales across cores; see docs)"
        ),
    ] = 1,
    telephony: Annotated[
        str | None,
        typer.Option(help="simulator (default) or sip: dial real phones over the OUTDIAL_SIP_* trunk"),
    ] = None,
) -> None:
    """Run the API and the background workers (in one process, or in N with --workers)."""
    import uvicorn
    from fastapi import FastAPI

    from outdial.app import create_app
    from outdial.clock_store import serve_clock, stored_origin
    from outdial.context import AppContext
    from outdial.runtime import build_context

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(db)
    if telephony is not None:
        settings = settings.model_copy(update={"telephony": telephony})
    if settings.telephony not in ("simulator", "sip"):
        raise typer.BadParameter(f"{settings.telephony!r}: simulator or sip", param_hint="--telephony")
    if settings.telephony == "sip" and (speed != 1.0 or workers > 1):
        # real calls run in real time, and one SIP runtime (one listen address) serves one process
        raise typer.BadParameter("--telephony sip runs with --speed 1 and --workers 1", param_hint="--telephony")
    ctx = build_context(settings)
    if settings.telephony == "sip" and not reset_clock and stored_origin(ctx.db) is not None:
        raise typer.BadParameter(
            "this database holds a sped-up timeline of an earlier --speed run; real calls need real time: "
            "add --reset-clock",
            param_hint="--telephony",
        )
    ctx.clock = serve_clock(ctx.db, speed, reset=reset_clock)  # a sped-up timeline survives a restart
    ctx.auth_clock = RealClock()  # clients sign with the real time, whatever speed the campaigns run at
    host = host or settings.host
    port = port or settings.port

    def make_app(ctx: AppContext, run_workers: bool) -> FastAPI:
        app = create_app(ctx, run_workers=run_workers)
        if demo:
            from outdial.demo import receiver_router

            app.include_router(receiver_router())
        return app

    if demo:
        from outdial.demo import banner, seed_demo

        if not settings.callback_allowed_networks:
            # the demo's callback receiver is this server itself, on loopback
            ctx.settings = settings.model_copy(update={"callback_allowed_networks": "127.0.0.0/8"})
        typer.echo(banner(seed_demo(ctx, f"http://{host}:{port}"), f"http://{host}:{port}"))
    if workers > 1:
        from outdial.server import serve_processes

        # forked after the clock was made, so a ScaledClock runs the same in every process
        serve_processes(ctx, make_app, host, port, workers)
    else:
        from outdial.server import freeze_startup_heap

        single = make_app(ctx, True)
        freeze_startup_heap()
        uvicorn.run(single, host=host, port=port, log_level="warning")


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create or upgrade the schema to the newest revision."""
    ctx = _context(db)
    typer.echo(f"database at head: {ctx.db.url.split('@')[-1]}")


@keys_app.command("create")
def keys_create(
    vdn: Annotated[list[int], typer.Option("--vdn", help="VDN ID the key may act for (repeatable)")],
    db: DbOption = None,
) -> None:
    """Create an AK/SK pair bound to the given VDNs; prints {"ak": ..., "sk": ...}."""
    if any(not 1 <= v <= 9999 for v in vdn):
        typer.echo("every --vdn must be between 1 and 9999", err=True)
        raise typer.Exit(2)
    ctx = _context(db)
    with ctx.db.write() as conn:
        key = tenants.create_key(conn, ctx.box, vdn, ctx.clock.now_ms())
    _print({"ak": key.ak, "sk": key.sk})


@keys_app.command("list")
def keys_list(db: DbOption = None) -> None:
    """List keys (never their SKs)."""
    ctx = _context(db)
    with ctx.db.read() as conn:
        for row in tenants.list_keys(conn):
            _print(row)


@keys_app.command("revoke")
def keys_revoke(ak: str, db: DbOption = None) -> None:
    """Revoke a key: its requests are refused from now on."""
    ctx = _context(db)
    with ctx.db.write() as conn:
        found = tenants.revoke_key(conn, ak, ctx.clock.now_ms())
    if not found:
        typer.echo(f"no active key {ak}", err=True)
        raise typer.Exit(1)
    _print({"ak": ak, "revoked": True})


@skills_app.command("add")
def skills_add(
    vdn: Annotated[int, typer.Option("--vdn")],
    skill_id: Annotated[int, typer.Option("--id", help="Skill queue ID, 1-1000")],
    name: Annotated[str, typer.Option("--name", help="Skill queue name, up to 100 characters")],
    db: DbOption = None,
) -> None:
    """Define a skill queue of a VDN (campaigns of device types 2, 5 and 6 must name an existing one)."""
    if not 1 <= skill_id <= 1000 or not 1 <= vdn <= 9999 or not 0 < len(name) <= 100:
        typer.echo("--vdn 1-9999, --id 1-1000 and a --name of 1-100 characters are required", err=True)
        raise typer.Exit(2)
    from sqlalchemy.exc import IntegrityError

    ctx = _context(db)
    try:
        with ctx.db.write() as conn:
            tenants.add_skill_queue(conn, vdn, skill_id, name, ctx.clock.now_ms())
    except IntegrityError:
        typer.echo(f"skill queue {skill_id} already exists in VDN {vdn}", err=True)
        raise typer.Exit(1) from None
    _print({"vdnId": vdn, "skillId": skill_id, "skillName": name})


@skills_app.command("list")
def skills_list(vdn: Annotated[int, typer.Option("--vdn")], db: DbOption = None) -> None:
    ctx = _context(db)
    with ctx.db.read() as conn:
        for row in tenants.list_skill_queues(conn, vdn):
            _print(row)


@app.command("request")
def signed_request(
    method: str,
    url: str,
    ak: Annotated[str, typer.Option(envvar="OUTDIAL_AK")],
    sk: Annotated[str, typer.Option(envvar="OUTDIAL_SK")],
    data: Annotated[str | None, typer.Option(help="JSON body")] = None,
) -> None:
    """Send one signed request and print the answer, e.g.
    outdial request GET http://127.0.0.1:8080/rest/isales/v1/openapi/campaigns/1/1 --ak AK --sk SK"""
    from urllib.parse import parse_qsl, urlsplit

    from outdial.client import Client

    parts = urlsplit(url)
    client = Client(f"{parts.scheme}://{parts.netloc}", ak, sk)
    body = json.loads(data) if data else None
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) or None
    response = client.request(method.upper(), parts.path, body, query=query)
    typer.echo(f"HTTP {response.status_code}", err=True)
    _print(response.body)
    if not response.ok:
        raise typer.Exit(1)


def cli_groups() -> None:
    """Domain command groups (fileserver, simulate, ...) register here."""
    from outdial.imports.cli import fileserver_app, imports_app

    if not any(group.name == "fileserver" for group in app.registered_groups):  # register once
        app.add_typer(fileserver_app, name="fileserver")
        app.add_typer(imports_app, name="imports")
    from outdial.results.cli import callbacks_app

    if not any(group.name == "callbacks" for group in app.registered_groups):
        app.add_typer(callbacks_app, name="callbacks")
    from outdial.engine.cli import resultcodes_app, simulate

    if not any(command.name == "simulate" for command in app.registered_commands):
        app.command("simulate")(simulate)
    if not any(group.name == "resultcodes" for group in app.registered_groups):
        app.add_typer(resultcodes_app, name="resultcodes")
    from outdial.agents.cli import agents_app

    if not any(group.name == "agents" for group in app.registered_groups):
        app.add_typer(agents_app, name="agents")


def main() -> None:
    from outdial.secretbox import SecretKeyMismatch

    cli_groups()
    try:
        app(prog_name="outdial")
    except SecretKeyMismatch as exc:  # one clear line, no traceback: the operator's setting to fix
        typer.echo(f"outdial: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
