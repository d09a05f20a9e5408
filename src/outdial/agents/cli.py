"""`outdial agents login|ready|notready|wrapupdone|logout|list --vdn V ...`: agent logins straight on the
database (like `outdial keys`), with the rules of the REST interface (docs/agents.md). The running engine
reads them within about a second."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from outdial.cli import DbOption

agents_app = typer.Typer(
    no_args_is_help=True, help="Real agents: logins to skill queues with their phones' SIP URIs"
)

VdnOption = Annotated[int, typer.Option("--vdn", help="VDN ID")]
AgentOption = Annotated[str, typer.Option("--agent", help="Agent ID: 1-32 of A-Z a-z 0-9 _ . -")]
T = TypeVar("T")


def _write(db: str | None, work: Callable[..., T]) -> T:
    """Run `work(conn, now_ms)` in one write transaction; a refusal is printed as `code: desc`, exit 1."""
    from outdial.cli import _context
    from outdial.errors import ApiError

    ctx = _context(db)
    try:
        with ctx.db.write() as conn:
            return work(conn, ctx.clock.now_ms())
    except ApiError as error:
        typer.echo(f"{error.code}: {error.desc}", err=True)
        raise typer.Exit(1) from None


@agents_app.command("login")
def agents_login(
    vdn: VdnOption,
    agent: AgentOption,
    skill: Annotated[list[int], typer.Option("--skill", help="Skill queue ID (repeatable)")],
    uri: Annotated[
        str, typer.Option("--uri", help="The agent phone's SIP URI, e.g. sip:1001@192.0.2.10:5060")
    ],
    ready: Annotated[bool, typer.Option("--ready/--not-ready", help="Ready at once (default)")] = True,
    db: DbOption = None,
) -> None:
    """Log an agent in to skill queues (again: replaces its skill queues, URI and readiness)."""
    from outdial.agents import service

    body = {"skillIds": skill, "uri": uri, "ready": ready}
    typer.echo(json.dumps(_write(db, lambda conn, now: service.login(conn, vdn, agent, body, now))))


def _action_command(name: str) -> Callable[..., None]:
    def command(vdn: VdnOption, agent: AgentOption, db: DbOption = None) -> None:
        from outdial.agents import service

        _write(db, lambda conn, now: service.ACTIONS[name](conn, vdn, agent, now))

    return command


for _name, _help in (
    ("ready", "Ready: an offline agent takes calls again."),
    ("notready", "Not ready: no more calls (an agent in a call keeps it)."),
    ("wrapupdone", "End the agent's current wrap-up now."),
    ("logout", "Log out (an agent in a call keeps it and leaves when it ends)."),
):
    agents_app.command(_name, help=_help)(_action_command(_name))


@agents_app.command("list")
def agents_list(vdn: VdnOption, db: DbOption = None) -> None:
    """The VDN's logins, one JSON object a line. The live state is the running engine's: see
    `GET /rest/outdial/v1/{vdnId}/agents`; here `state` is null."""
    from outdial.agents import service
    from outdial.cli import _context

    ctx = _context(db)
    with ctx.db.read() as conn:
        for stored in service.list_logins(conn, vdn):
            typer.echo(json.dumps(service.login_fields(stored, {})))
