"""A PostgreSQL primary and a streaming replica of it, made and run by the tests themselves.

The machine's own cluster (5432) allows no replication and is left as it is: `initdb` makes a
primary in a temporary folder on a free port (its default pg_hba.conf lets local connections
replicate), the platform's schema is migrated into it, and `pg_basebackup -R` makes the replica
on another port, which follows the primary from then on. Both run with `fsync = off` (throw-away
data) and small buffers. As root (the test machines), the servers run as the `postgres` user,
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade

BINARIES = Path("/usr/lib/postgresql/15/bin")
DATABASE = "urbantwin"


@dataclass(frozen=True)
class Replicated:
    folder: Path
    primary_port: int
    replica_port: int

    @property
    def primary_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.primary_port}/{DATABASE}"

    @property
    def replica_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.replica_port}/{DATABASE}"

    @property
    def replica_data(self) -> Path:
        return self.folder / "replica"

    def stop_replica(self) -> None:
        _pg_ctl(self.replica_data, "stop", "-m", "immediate")

    def start_replica(self) -> None:
        _pg_ctl(self.replica_data, "start", "-l", str(self.folder / "replica.log"))


def missing() -> str | None:
    """Why a replicated pair cannot be made here (None: it can)."""
    if not (BINARIES / "initdb").exists():
        return f"PostgreSQL's server binaries are not in {BINARIES}: apt-get install postgresql-15"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a `postgres` user to run PostgreSQL as"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)


def _pg_ctl(data: Path, *arguments: str) -> None:
    _run(str(BINARIES / "pg_ctl"), "-D", str(data), "-w", *arguments)


@contextmanager
def replicated() -> Iterator[Replicated]:
    """A migrated primary and its running replica, until the block ends (then both are stopped and
    their folders removed)."""
    folder = Path(tempfile.mkdtemp(prefix="urbantwin-replication-"))
    if os.geteuid() == 0:
        os.chown(folder, pwd.getpwnam("postgres").pw_uid, -1)
    pair = Replicated(folder, _free_port(), _free_port())
    primary = folder / "primary"
    started: list[Path] = []
    try:
        _run(str(BINARIES / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust", "--no-sync")
        with open(primary / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"port = {pair.primary_port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{folder}'\nfsync = off\nfull_page_writes = off\n"
                "shared_buffers = 16MB\nmax_connections = 50\nwal_level = replica\nmax_wal_senders = 4\n"
                "hot_standby = on\n"
            )
        _pg_ctl(primary, "start", "-l", str(folder / "primary.log"))
        started.append(primary)
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{pair.primary_port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {DATABASE}"))
        admin.dispose()
        engine = make_engine(Settings(database_url=pair.primary_url))
        upgrade(engine)
        engine.dispose()
        _run(
            str(BINARIES / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(pair.primary_port), "-U", "postgres"),
            *("-D", str(pair.replica_data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
        )
        with open(pair.replica_data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"port = {pair.replica_port}\n")
        pair.start_replica()
        started.append(pair.replica_data)
        yield pair
    finally:
        for data in reversed(started):
            if (data / "postmaster.pid").exists():
                _pg_ctl(data, "stop", "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)


def wait_until(condition, seconds: float = 20.0) -> None:  # noqa: ANN001
    """Wait for `condition()` to hold (a replica replaying, a check noticing), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {getattr(condition, '__name__', condition)}")
        time.sleep(0.05)
