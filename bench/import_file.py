"""Import a call data file end to end: a file server on loopback (asyncssh SFTP), the signed API
(addServer, uploadFileServer), and the real import worker (fetch, read, validate, de-duplicate, store in
one transaction) on SQLite and on PostgreSQL. Also times a bare read of the same file with the same reader
(outdial.imports.readers) and a bare store of the same rows (bulk_insert_blocks alone, committed): the
floors on the two sides of the import, which runs them side by side on the two cores.

    .venv/bin/python bench/import_file.py                       # 500,000 rows, .xlsx and .csv, SQLite
    .venv/bin/python bench/import_file.py --pg postgresql://postgres@127.0.0.1:5432/test

The .xlsx is written the way Excel writes it (shared strings, numbers as numbers, date cells) by
bench/make_import_files.py; files are cached in --work. Each measurement runs in a fresh child process so
its peak memory (ru_maxrss, the whole process) is its own. Targets: .xlsx <= 8 s (>= 60,000 rows/s) with
peak memory < 600 MB; .csv <= 3 s. "cpu s" is the importing process's own CPU time (the SFTP server runs
in the parent; PostgreSQL in its own processes): on a busy machine it is the steadier figure. The pass
reads and formats the rows in a forked process (imports/forked.py): "child cpu / MB" is that process's
CPU time and peak memory (its pages shared with the importing process are counted in both).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import json
import logging
import os
import pwd
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncssh

sys.path.insert(0, str(Path(__file__).parent))
from make_import_files import write_csv, write_xlsx  # noqa: E402

USER, PASSWORD = "bench", "bench-password"
CAMPAIGN_BODY: dict[str, Any] = {
    "name": "import-bench",
    "strBeginTime": "2030-01-01 00:00:00",
    "strEndTime": "2030-01-02 23:59:59",
    "deviceType": 3,
    "callerNo": [{"accessCode": "88889527", "priority": 3}],
    "maxAlertingTime": 20,
    "priority": 4,
    "scheduleParam": {
        "workdayBeginTime1": "00:00",
        "workdayEndTime1": "23:59",
        **{f"workday{k}Time{i}": "" for k in ("Begin", "End") for i in (2, 3)},
        **{f"holiday{k}Time{i}": "" for k in ("Begin", "End") for i in (1, 2, 3)},
    },
    "ivrParam": {"deviceSign": "1001", "callCount": 3, "callInterval": 3},
    "retryPolicy": {
        "policyType": 1,
        "policyJson": "[{'dataType':'SI','type':1,'policy':[{'result':4,'retryNumber':3,'callInterval':600}]}]",
    },
    "callPolicy": {"callType": 1, "chooseType": 0, "turns": [{"turnType": "SI"}]},
    "initStatus": 1,
    "callBackUrl": "https://10.10.10.10/xxx/xxx/xxx",
}


# ---------------------------------------------------------------- the file server (parent process)


class SftpServer:
    """asyncssh SFTP on 127.0.0.1, serving `root` as "/", password login, in a background thread of this
    process (its CPU, about 1 s per 75 MB, is taken from the import's two cores: see --sftp)."""

    kind = "asyncssh"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key = " ".join(host_key.export_public_key("openssh").decode().split()[:2])

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return (username, password) == (USER, PASSWORD)

        async def start() -> Any:
            return await asyncssh.listen(
                "127.0.0.1",
                0,
                server_host_keys=[host_key],
                server_factory=Server,
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=os.fsencode(root)),
            )

        self.acceptor = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        self.port = self.acceptor.sockets[0].getsockname()[1]

    def add_body(self) -> dict[str, Any]:
        """The addServer body that reaches this server."""
        return {
            "userName": USER,
            "serverPwd": PASSWORD,
            "serverInfo": {"ip": "127.0.0.1", "port": str(self.port), "filePath": "/"},
            "hostKey": self.host_key,
        }

    def stop(self) -> None:
        pass  # a daemon thread: it ends with the process


class OpenSshServer:
    """OpenSSH's sshd on a loopback port (the file servers customers run), serving `root` through
    internal-sftp, key login for the user running the benchmark. Needs /usr/sbin/sshd (Debian's
    openssh-server)."""

    kind = "openssh"
    SSHD = "/usr/sbin/sshd"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = Path(tempfile.mkdtemp(prefix="import-bench-sshd-"))
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key = " ".join(host_key.export_public_key("openssh").decode().split()[:2])
        self.client_key = client_key.export_private_key("openssh").decode()
        (self.work / "host_key").write_bytes(host_key.export_private_key("openssh"))
        (self.work / "authorized_keys").write_bytes(client_key.export_public_key("openssh"))
        for name in ("host_key", "authorized_keys"):
            (self.work / name).chmod(0o600)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        config = self.work / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.work / 'host_key'}\n"
            f"PidFile {self.work / 'sshd.pid'}\nAuthorizedKeysFile {self.work / 'authorized_keys'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            f"StrictModes no\nUsePAM no\nAllowUsers {self.user}\nSubsystem sftp internal-sftp\n"
            f"ForceCommand internal-sftp -d {root}\n"
        )
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        log = (self.work / "sshd.log").open("wb")
        self.proc = subprocess.Popen([self.SSHD, "-D", "-e", "-f", str(config)], stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit(f"sshd did not start: {(self.work / 'sshd.log').read_text(errors='replace')[-2000:]}")

    def add_body(self) -> dict[str, Any]:
        return {
            "userName": self.user,
            "privateKey": self.client_key,
            "serverInfo": {"ip": "127.0.0.1", "port": str(self.port), "filePath": str(self.root)},
            "hostKey": self.host_key,
        }

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# ---------------------------------------------------------------- one measurement (child process)


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM where there is /proc: ru_maxrss keeps, across exec,
    the peak of the process it was forked from (the driver, after writing a 500,000-row workbook, had
    held ~590 MB, and every measurement showed that)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_read(path: Path) -> dict[str, Any]:
    from outdial.imports.readers import read_rows

    gc.disable()
    start, cpu_start = time.perf_counter(), time.process_time()
    sheet = read_rows(path)
    count = sum(1 for _ in sheet.rows)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"rows": count, "seconds": seconds, "cpu": cpu, "peak_mb": peak_mb()}


def child_store(db_url: str, path: Path) -> dict[str, Any]:
    """The same rows written alone (the floor on the database's side): the file's blocks, made before
    the clock starts, written by bulk_insert_blocks as the import writes them (multi-row INSERTs on
    SQLite, COPY on PostgreSQL, whose own CPU is not in "cpu s"), and committed."""
    from outdial.calldata import repository as calldata_repo
    from outdial.imports import fastrows
    from outdial.imports.pipeline import RowSorter, Tally
    from outdial.imports.readers import read_rows

    gc.disable()
    db, schema = _database(db_url)
    try:
        campaign = calldata_repo.LockedCampaign(1, 1, 0, 0, 0, "UTC", None)
        sheet = read_rows(path)
        assert sheet.raw_rows is not None and sheet.shape is not None
        tally = Tally()
        blocks = list(
            fastrows.sorted_blocks(
                db.engine.dialect.name,
                campaign,
                sheet.raw_rows,
                sheet.shape,
                RowSorter(set(), {}, tally),
                first_line=sheet.first_line,
                import_task_id="bench",
                now_ms=1,
                plain_text=sheet.plain_text,
            )
        )
        start, cpu_start = time.perf_counter(), time.process_time()
        with db.write() as conn:
            calldata_repo.bulk_insert_blocks(
                conn, blocks, campaign=campaign, import_task_id="bench", now_ms=1, large=True
            )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        return {"rows": tally.stored, "seconds": seconds, "cpu": cpu, "peak_mb": peak_mb()}
    finally:
        db.dispose()
        if schema:
            _drop_schema(db_url, schema)


def _database(url: str) -> tuple[Any, str]:
    """A fresh migrated database: a SQLite file, or a private schema of the PostgreSQL database."""
    from outdial.db import Database, normalize_url
    from outdial.migrate import upgrade

    if url == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="import-bench-")) / "outdial.db"
        db = Database(f"sqlite:///{path}")
        upgrade(db)
        return db, ""
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(normalize_url(url))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    sep = "&" if "?" in url else "?"
    db = Database(f"{url}{sep}options=-csearch_path%3D{schema}")
    upgrade(db)
    return db, schema


def _drop_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    from outdial.db import normalize_url

    admin = sa.create_engine(normalize_url(url))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def child_import(
    db_url: str, server_body: dict[str, Any], file_name: str, rows: int, again: bool = False
) -> dict[str, Any]:
    """One import of the file into a new campaign, timed; `again`: the file imported into the campaign
    first, untimed, so that the timed import finds every row a repeat (a file sent twice)."""
    from fastapi.testclient import TestClient

    from outdial.app import create_app
    from outdial.client import Client
    from outdial.clock import RealClock
    from outdial.config import Settings
    from outdial.context import AppContext
    from outdial.imports import repository as repo
    from outdial.imports import worker
    from outdial.secretbox import SecretBox
    from outdial.tenants import repository as tenants

    db, schema = _database(db_url)
    data_dir = Path(tempfile.mkdtemp(prefix="import-bench-data-"))  # the downloads go there
    try:
        settings = Settings(
            timezone="UTC",
            database_url="unused",
            max_unfinished_per_campaign=rows + 1,
            data_dir=data_dir,
            fileserver_allowed_networks="127.0.0.0/8",  # the bench's sshd listens on loopback
        )
        box = SecretBox(_key())
        ctx = AppContext(settings=settings, db=db, clock=RealClock(), box=box)
        with db.write() as conn:
            key = tenants.create_key(conn, box, [1], ctx.clock.now_ms())
        with TestClient(create_app(ctx), base_url="http://bench") as http:
            client = Client("http://bench", key.ak, key.sk, http=http)
            added = client.add_campaign(1, copy.deepcopy(CAMPAIGN_BODY))
            assert added.ok, added.body
            campaign = int(added.body["returnObject"]["id"])
            server = client.add_file_server(1, server_body)
            assert server.ok, server.body
            if again:
                first = client.import_file(1, campaign, server.body["serverId"], file_name)
                assert first.ok, first.body
                assert worker.run_due(ctx, "bench") == 1
            started = client.import_file(1, campaign, server.body["serverId"], file_name)
            assert started.ok, started.body
            stages: dict[str, float] = {}
            stages_cpu: dict[str, float] = {}

            class Stages(logging.Handler):
                def emit(self, record: logging.LogRecord) -> None:
                    stages.update(getattr(record, "stage_seconds", {}))
                    stages_cpu.update(getattr(record, "stage_cpu_seconds", {}))

            pipeline_log = logging.getLogger("outdial.imports")
            pipeline_log.setLevel(logging.INFO)
            pipeline_log.addHandler(Stages())
            start, cpu_start = time.perf_counter(), time.process_time()
            ran = worker.run_due(ctx, "bench")
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        with db.read() as conn:
            task = repo.get_task(conn, started.body["importTaskId"])
        assert ran == 1 and task is not None
        if task.status != 2:
            raise SystemExit(f"import failed: {task.err_msg}")
        return {
            "rows": task.succ_num + task.repeat_num + task.fail_num,
            "stored": task.succ_num,
            "seconds": seconds,
            "cpu": cpu,
            "peak_mb": peak_mb(),
            # the pass's forked reading process (imports/forked.py): its CPU time and peak memory
            "child_cpu": (lambda u: u.ru_utime + u.ru_stime)(resource.getrusage(resource.RUSAGE_CHILDREN)),
            "child_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "stages": stages,
            "stages_cpu": stages_cpu,
        }
    finally:
        db.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)
        if schema:
            _drop_schema(db_url, schema)


def _key() -> bytes:
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


# ---------------------------------------------------------------- driver


def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "outdial-import-bench")
    parser.add_argument("--pg", default="", help="PostgreSQL URL (a private schema is made and dropped)")
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is shown")
    parser.add_argument(
        "--sftp",
        choices=("openssh", "asyncssh"),
        default="openssh" if os.path.exists(OpenSshServer.SSHD) else "asyncssh",
        help="the loopback file server: OpenSSH's sshd (the default where installed) or asyncssh in this "
        "process, whose CPU (~1 s per 75 MB) competes with the import for the two cores",
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="also time each file imported a second time into the same campaign (every row a repeat, "
        "each listed among the task's failed rows)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "read":
            result = child_read(Path(rest[0]))
        elif kind == "store":
            result = child_store(rest[0], Path(rest[1]))
        else:
            result = child_import(rest[0], json.loads(rest[1]), rest[2], int(rest[3]), rest[4:] == ["again"])
        print(json.dumps(result))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    formats = args.formats.split(",")
    files = {}
    for fmt in formats:
        path = args.work / f"calldata_{args.rows}.{fmt}"
        if not path.exists():
            start = time.perf_counter()
            (write_xlsx if fmt == "xlsx" else write_csv)(path, args.rows)
            print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s")
        files[fmt] = path
    server = OpenSshServer(args.work) if args.sftp == "openssh" else SftpServer(args.work)
    try:
        _measure(args, files, server)
    finally:
        server.stop()


def _measure(args: argparse.Namespace, files: dict[str, Path], server: SftpServer | OpenSshServer) -> None:
    backends = ["sqlite"] + ([args.pg] if args.pg else [])
    print(f"\nfile server: {server.kind} on 127.0.0.1:{server.port}")

    print(
        f"\n{'what':<34} {'rows':>8} {'seconds':>8} {'cpu s':>6} {'rows/s':>9} {'peak MB':>8} {'vs read':>8}"
        f" {'child cpu / MB':>15}   fetch / open / read+validate+store s (cpu s)"
    )
    for backend in backends:  # the floor on the database's side: the same rows written alone
        stores = [run_child("store", backend, str(next(iter(files.values())))) for _ in range(args.repeat)]
        name = "sqlite" if backend == "sqlite" else "postgresql"
        print(_line(f"bare store, {name}", min(stores, key=lambda r: r["seconds"]), None))
    for fmt, path in files.items():
        reads = [run_child("read", str(path)) for _ in range(args.repeat)]
        floor = min(reads, key=lambda r: r["seconds"])
        print(_line(f"bare read .{fmt}", floor, None))
        for backend in backends:
            runs = [
                run_child("import", backend, json.dumps(server.add_body()), path.name, str(args.rows))
                for _ in range(args.repeat)
            ]
            best = min(runs, key=lambda r: r["seconds"])
            name = "sqlite" if backend == "sqlite" else "postgresql"
            print(_line(f"import .{fmt} over SFTP, {name}", best, floor["seconds"]))
            if len(runs) > 1:  # the spread too: the best alone would hide a noisy machine
                every = ", ".join(f"{r['seconds']:.2f}" for r in runs)
                print(f"    every run: {every} s")
            if args.again:
                body = json.dumps(server.add_body())
                again = run_child("import", backend, body, path.name, str(args.rows), "again")
                print(_line(f"  again (all repeats), {name}", again, floor["seconds"]))


def _line(what: str, run: dict[str, Any], floor: float | None) -> str:
    ratio = f"{run['seconds'] / floor:.2f}x" if floor else ""
    rate = run["rows"] / run["seconds"]
    cpu = run.get("stages_cpu", {})
    child = f"{run['child_cpu']:.2f} / {run['child_peak_mb']:.0f}" if "child_cpu" in run else ""
    stages = " / ".join(f"{s:.2f} ({cpu.get(k, 0):.2f})" for k, s in run.get("stages", {}).items())
    return (
        f"{what:<34} {run['rows']:>8} {run['seconds']:>8.2f} {run['cpu']:>6.2f} {rate:>9,.0f} "
        f"{run['peak_mb']:>8.0f} {ratio:>8}"
        f" {child:>15}"
        f"   {stages}"
    )


if __name__ == "__main__":
    main()
