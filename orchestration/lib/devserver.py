"""`crosswind dev`: the Dagster UI and daemon (`dg dev`), stopped with every process it started.

`dg dev` starts a webserver, a daemon and a code server (with its gRPC child and a resource
tracker). Stopped with SIGTERM from a shell that started it in the background, it ignored the
signal and left 8 processes running: `dg dev` maps SIGTERM onto its SIGINT handler, and a
background job inherits SIGINT ignored. So this supervisor:

- starts `dg dev` in a process group of its own with SIGINT at its default, so Dagster's own
  shutdown (KeyboardInterrupt -> stop webserver, daemon and code servers) works;
- on SIGTERM, SIGINT or SIGHUP asks it to stop (SIGINT to `dg dev`), waits up to
  `GRACE_SECONDS`, then sends SIGTERM and finally SIGKILL to whatever is left in the group;
- prints the settings the UI starts with first (mode, snapshot, warehouse), so a UI in the
  wrong mode is noticed before the first materialization.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestration.lib.settings import REPO_ROOT, load_settings

GRACE_SECONDS = 30.0  # for Dagster's own shutdown (it gives each service 20 s)
KILL_AFTER_SECONDS = 5.0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_group(pgid: int, leader: subprocess.Popen, seconds: float) -> bool:
    """Wait until no process of the group is left (reaping the leader); True if so."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        leader.poll()
        if not _group_alive(pgid):
            return True
        time.sleep(0.2)
    leader.poll()
    return not _group_alive(pgid)


def stop(proc: subprocess.Popen, out: Callable[[str], None], grace: float = GRACE_SECONDS) -> None:
    """Stop `dg dev` and every process of its group."""
    pgid = proc.pid  # the group was created with the leader's pid as its id
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    if _wait_group(pgid, proc, grace):
        return
    out("crosswind dev: services still running after the grace period; sending SIGTERM")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        if _wait_group(pgid, proc, KILL_AFTER_SECONDS):
            return


def dev(host: str, port: int, extra: Sequence[str] = (), out: Callable[[str], None] = print) -> int:
    settings = load_settings()
    tags = settings.run_tags()
    out(
        f"crosswind dev: mode {settings.source_mode}, snapshot {tags['crosswind/snapshot']}, "
        f"warehouse {settings.warehouse_dir}"
    )
    out(f"  UI on http://{host}:{port} (Ctrl-C or SIGTERM stops every process it starts)")
    dg = Path(sys.executable).with_name("dg")
    command = [str(dg), "dev", "--host", host, "--port", str(port), *extra]
    stopping: list[int] = []

    def on_signal(signum, frame) -> None:
        stopping.append(signum)

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    proc = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        process_group=0,
        # A background shell leaves SIGINT ignored, and children inherit that: restore it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        while proc.poll() is None and not stopping:
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
    finally:
        stop(proc, out)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else (proc.returncode or 0)
