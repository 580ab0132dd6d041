"""A throwaway PostgreSQL server for the DuckLake tests and the bench: Debian's binaries, loopback.

PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to `nobody`
(in a private folder under /tmp that `nobody` can reach; pytest's own tmp folder is 0700 root).
The server listens on 127.0.0.1 on a free port with password authentication, so the tests use a
real password and can prove it never reaches an error, a log line or Dagster metadata.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "s3cret-Pa55word"  # a test-only value, unlike anything else in the suite
USER = "crosswind"


def find_bindir() -> Path | None:
    """The folder with initdb, postgres and psql (PATH first, then Debian's versioned folders)."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "postgres", "psql")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    process: subprocess.Popen | None = None

    def conninfo(self, dbname: str, password: str = PASSWORD) -> str:
        """A libpq URI with the password in it, as a user would write it in the environment."""
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.conninfo(name)

    def psql(self, sql: str) -> None:
        subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                sql,
            ],
            env={**os.environ, "PGPASSWORD": PASSWORD},
            check=True,
            capture_output=True,
            timeout=30,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: PostgreSQL's "smart" shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def start(bindir: Path) -> PostgresServer:
    """initdb + postgres on a free loopback port; raises RuntimeError with the server's log."""
    run_as = {}
    root = Path(tempfile.mkdtemp(prefix="crosswind-pg-"))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        run_as = {"user": nobody.pw_uid, "group": nobody.pw_gid}
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
    data = root / "data"
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if run_as:
        os.chown(pwfile, run_as["user"], run_as["group"])
    server = PostgresServer(bindir, root, _free_port())
    try:
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=root,
            **run_as,
        )
        log = open(root / "server.log", "wb")  # the server writes it; our copy is closed below
        server.process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(server.port),
                "-k",
                str(root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=60",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            **run_as,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                    pass
                server.psql("SELECT 1")
                return server
            except (OSError, subprocess.CalledProcessError):
                if server.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    except (OSError, subprocess.SubprocessError) as exc:
        logged = (root / "server.log").read_text(errors="replace")[-2000:] if root.exists() else ""
        server.stop()
        raise RuntimeError(f"could not start PostgreSQL from {bindir}: {exc}\n{logged}") from exc
