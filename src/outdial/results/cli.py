"""`outdial callbacks ...`: the callback outbox and its delivery log from the command line, straight on the
database (like `outdial keys`), with the same rules as the /rest/outdial/v1/{vdnId}/callbacks interfaces."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from outdial.cli import DbOption
from outdial.errors import ApiError

callbacks_app = typer.Typer(
    no_args_is_help=True, help="Result callbacks: pushes made, results waiting or given up"
)

VdnOption = Annotated[int, typer.Option("--vdn", help="VDN ID")]
CampaignOption = Annotated[int | None, typer.Option("--campaign", help="Only this campaign")]


def _context(db: str | None):  # type: ignore[no-untyped-def]
    from outdial.cli import _context as build

    return build(db)


def _print_page(page: dict[str, Any]) -> None:
    for item in page["data"]:
        typer.echo(json.dumps(item, ensure_ascii=False))
    typer.echo(f"{len(page['data'])} of {page['totalCount']}", err=True)


def _refused(error: ApiError) -> typer.Exit:
    typer.echo(f"{error.code}: {error.desc}", err=True)
    return typer.Exit(1)


@callbacks_app.command("deliveries")
def deliveries(
    vdn: VdnOption,
    campaign: CampaignOption = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed pushes")] = False,
    offset: int = 0,
    limit: int = 100,
    db: DbOption = None,
) -> None:
    """Pushes made to callback URLs, newest first, one JSON object a line."""
    from outdial.results import callbacks

    params = {"campaignId": campaign, "failedOnly": 1 if failed else 0, "offset": offset, "limit": limit}
    ctx = _context(db)
    try:
        with ctx.db.read() as conn:
            page = callbacks.list_deliveries(conn, vdn, params)
    except ApiError as error:
        raise _refused(error) from None
    _print_page(page)


@callbacks_app.command("results")
def results(
    vdn: VdnOption,
    campaign: CampaignOption = None,
    state: Annotated[str | None, typer.Option(help="pending, delivered or failed (given up)")] = None,
    offset: int = 0,
    limit: int = 100,
    db: DbOption = None,
) -> None:
    """Results in the callback outbox with their delivery state, oldest first."""
    from outdial.results import callbacks

    params = {"campaignId": campaign, "state": state, "offset": offset, "limit": limit}
    ctx = _context(db)
    try:
        with ctx.db.read() as conn:
            page = callbacks.list_results(conn, vdn, params)
    except ApiError as error:
        raise _refused(error) from None
    _print_page(page)


@callbacks_app.command("redeliver")
def redeliver(
    vdn: VdnOption, campaign: Annotated[int, typer.Option("--campaign")], db: DbOption = None
) -> None:
    """Queue a campaign's given-up results again (after fixing the receiver)."""
    from outdial.results import callbacks

    ctx = _context(db)
    try:
        with ctx.db.write() as conn:
            count = callbacks.redeliver(conn, vdn, {"campaignId": campaign}, ctx.clock.now_ms())
    except ApiError as error:
        raise _refused(error) from None
    typer.echo(json.dumps({"campaignId": campaign, "requeued": count}))


@callbacks_app.command("settings")
def settings(
    vdn: VdnOption,
    url: Annotated[str | None, typer.Option("--url", help='Tenant callback URL ("" clears it)')] = None,
    max_pushes: Annotated[int | None, typer.Option("--max-pushes", help="Pushes per result, 1-6")] = None,
    db: DbOption = None,
) -> None:
    """Show, or with --url / --max-pushes change, the tenant's callback settings."""
    from outdial.results import callbacks

    ctx = _context(db)
    body: dict[str, Any] = {}
    if url is not None:
        body["callBackUrl"] = url
    if max_pushes is not None:
        body["maxPushes"] = max_pushes
    try:
        if body:
            with ctx.db.write() as conn:
                callbacks.set_tenant_settings(conn, vdn, body)
        with ctx.db.read() as conn:
            shown = callbacks.tenant_settings(conn, vdn, ctx.settings.callback_max_pushes)
    except ApiError as error:
        raise _refused(error) from None
    typer.echo(json.dumps({"vdnId": vdn, **shown}))
