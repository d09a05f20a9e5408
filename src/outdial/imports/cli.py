"""`outdial fileserver ...` and `outdial imports ...`: file servers and import results from the command line,
straight on the database (like `outdial keys`), with the same rules as the API (service.py)."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from outdial.errors import ApiError

fileserver_app = typer.Typer(no_args_is_help=True, help="SFTP file servers that imports read from")
imports_app = typer.Typer(no_args_is_help=True, help="File imports and their failed rows")

DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: OUTDIAL_DATABASE_URL or SQLite)")
]


def _context(db: str | None):  # type: ignore[no-untyped-def]
    from outdial.cli import _context as build

    return build(db)


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


def _refused(error: ApiError) -> typer.Exit:
    typer.echo(f"{error.code}: {error.desc}", err=True)
    return typer.Exit(1)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        typer.echo(f"cannot read the {what} {path}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None


@fileserver_app.command("add")
def fileserver_add(
    vdn: Annotated[int, typer.Option("--vdn", help="VDN the server belongs to")],
    host: Annotated[str, typer.Option("--host", help="Host name or IP address")],
    user: Annotated[str, typer.Option("--user", help="Login name, up to 30 characters")],
    port: Annotated[int, typer.Option("--port")] = 22,
    password_env: Annotated[
        str | None, typer.Option("--password-env", help="Name of the environment variable holding the password")
    ] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="Unencrypted private key file")] = None,
    path: Annotated[str, typer.Option("--path", help="Default path on the server")] = "/",
    host_key_file: Annotated[
        Path | None, typer.Option("--host-key-file", help="The server's public host key (OpenSSH form) to pin")
    ] = None,
    db: DbOption = None,
) -> None:
    """Add an SFTP file server; prints {"serverId": ...}. The password or key is stored encrypted."""
    from outdial.imports import service

    if (password_env is None) == (key_file is None):
        typer.echo("give exactly one of --password-env VAR and --key-file F", err=True)
        raise typer.Exit(2)
    body: dict[str, Any] = {"userName": user, "serverInfo": {"ip": host, "port": str(port), "filePath": path}}
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            typer.echo(f"the environment variable {password_env} is not set", err=True)
            raise typer.Exit(2)
        body["serverPwd"] = password
    if key_file is not None:
        body["privateKey"] = _read(key_file, "key file")
    if host_key_file is not None:
        body["hostKey"] = _read(host_key_file, "host key file").strip()
    ctx = _context(db)
    try:
        with ctx.db.write() as conn:
            server_id = service.add_server(conn, ctx.box, vdn, body, ctx.clock.now_ms())
    except ApiError as error:
        raise _refused(error) from None
    _print({"serverId": server_id})


@fileserver_app.command("list")
def fileserver_list(vdn: Annotated[int, typer.Option("--vdn")], db: DbOption = None) -> None:
    """The VDN's file servers, one JSON line each (never a password or key)."""
    from outdial.imports import repository as repo
    from outdial.imports.service import server_view

    ctx = _context(db)
    with ctx.db.read() as conn:
        _, rows = repo.list_servers(conn, vdn, 0, 1_000_000)
    for row in rows:
        _print(server_view(row))


@fileserver_app.command("delete")
def fileserver_delete(
    server_id: str, vdn: Annotated[int, typer.Option("--vdn")], db: DbOption = None
) -> None:
    from outdial.imports import service

    ctx = _context(db)
    try:
        with ctx.db.write() as conn:
            service.delete_server(conn, vdn, server_id)
    except ApiError as error:
        raise _refused(error) from None
    _print({"serverId": server_id, "deleted": True})


@imports_app.command("failures")
def imports_failures(
    task_id: Annotated[str, typer.Argument(help="The importTaskId")],
    vdn: Annotated[int | None, typer.Option("--vdn", help="Only if the task belongs to this VDN")] = None,
    db: DbOption = None,
) -> None:
    """Every failed or duplicate row of an import as CSV: line,kind,reason (kind: invalid, blacklist,
    duplicate)."""
    from outdial.imports import repository as repo

    ctx = _context(db)
    with ctx.db.read() as conn:
        task = repo.get_task(conn, task_id)
        if task is None or (vdn is not None and task.vdn_id != vdn):
            typer.echo(f"no import task {task_id}", err=True)
            raise typer.Exit(1)
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["line", "kind", "reason"])
        for row in repo.iter_failures(conn, task_id):
            out.writerow([row.line_no, row.kind, row.reason])
