"""A throw-away PostgreSQL server on loopback, for tests that need the real thing.

Not a pytest plugin by itself: a ``conftest.py`` wraps :func:`start_postgres` in a
session-scoped fixture (see ``tests/store/conftest.py``). The server lives in a fresh
temporary folder, listens on 127.0.0.1 on a free port and on a unix socket inside that folder,
trusts local connections, and runs with fsync off (data is thrown away afterwards). As root
the server runs as the ``postgres`` system user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PG_MISSING = (
    "PostgreSQL server binaries not found "
    "(install Debian package 'postgresql'; 'make test' does it as root)"
)
PG_USER = "postgres"


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def on_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether we run under CI, where a missing PostgreSQL is an error, not a skip."""
    return environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def start_or_skip(
    start: Callable[[], PostgresServer] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> PostgresServer:
    """Start a server, or skip the test (fail it under ``CI=true``) without server binaries.

    A server that is installed but fails to start is always an error.
    """
    try:
        return (start or start_postgres)()
    except PostgresUnavailableError as missing:
        if on_ci(environ):
            pytest.fail(f"CI=true: {missing}")
        pytest.skip(str(missing))


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's versioned dirs."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = Path("/usr/lib/postgresql").glob("*/bin/initdb")

    def version(initdb: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in initdb.parent.parent.name.split(".") if x.isdigit())

    for initdb in sorted(candidates, key=version, reverse=True):
        folder = initdb.parent
        if (folder / "pg_ctl").exists():
            return folder
    return None


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _as_server_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs a program as the server's user, and that user (as root)."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
            capture_output=True,
        )
        user = pwd.getpwnam(PG_USER)
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", PG_USER, "--"], user
    return [], user  # fall back to su in _run


@dataclass
class PostgresServer:
    """A running server; :meth:`create_database` hands out fresh, empty databases."""

    bin_dir: Path
    root: Path
    port: int
    prefix: list[str]
    use_su: bool
    host: str = "127.0.0.1"
    user: str = PG_USER
    _count: int = field(default=0, init=False)
    _databases: set[str] = field(default_factory=set, init=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for one database of this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its URL."""
        self._count += 1
        name = name or f"t{self._count}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(name)
                )
            )
        return self.url(name)

    def create_schema(self, database: str = "fanzha_test") -> str:
        """Create an empty schema and return a URL whose ``search_path`` is that schema.

        Much cheaper than a database (milliseconds, not a checkpoint), and as isolated for
        code that never names a schema.
        """
        self._count += 1
        schema = f"t{self._count}_{uuid.uuid4().hex[:8]}"
        if database not in self._databases:
            self.create_database(database)
            self._databases.add(database)
        with psycopg.connect(self.conninfo(database), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        return f"{self.url(database)}?options=-csearch_path%3D{schema}"

    def run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run a server program as the server's user."""
        if self.use_su:
            command = ["su", PG_USER, "-s", "/bin/sh", "-c", shlex.join(args)]
        else:
            command = [*self.prefix, *args]
        return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)

    def stop(self) -> None:
        """Stop the server (fast mode) and remove its folder."""
        try:
            self.run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "stop", "-m", "fast"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def start_postgres(bin_dir: Path | None = None) -> PostgresServer:
    """Initialise and start a server; raise :class:`PostgresUnavailableError` without binaries."""
    bin_dir = bin_dir or find_pg_bin()
    if bin_dir is None:
        raise PostgresUnavailableError(PG_MISSING)
    prefix, user = _as_server_user()
    use_su = user is not None and not prefix
    # Not under pytest's tmp_path: that lives in a 0700 folder the server user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="fanzha-pg-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    server = PostgresServer(bin_dir, root, free_port(), prefix, use_su)
    try:
        _init_and_start(server)
    except BaseException:
        server.stop()
        raise
    return server


def _init_and_start(server: PostgresServer) -> None:
    init = server.run(
        [
            str(server.bin_dir / "initdb"),
            "-D",
            str(server.data_dir),
            "-U",
            PG_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    pg_ctl = str(server.bin_dir / "pg_ctl")
    data, log = str(server.data_dir), str(server.log_file)
    for attempt in range(3):
        options = (
            f"-p {server.port} -c listen_addresses=127.0.0.1 -k {server.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        start = server.run([pg_ctl, "-D", data, "-l", log, "-w", "-o", options, "start"])
        if start.returncode == 0:
            return
        if attempt < 2 and "already in use" in server.log_tail():
            server.port = free_port()  # lost a race for the port: try another
            continue
        raise RuntimeError(
            f"pg_ctl start failed:\n{start.stdout}\n{start.stderr}\n{server.log_tail()}"
        )
