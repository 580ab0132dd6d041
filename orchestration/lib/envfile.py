"""Run a command with `.env` applied: how every make target that needs the settings starts.

    python -m orchestration.lib.envfile [--set NAME=VALUE ...] -- COMMAND [ARG ...]

`.env` (in the repository root) is parsed by python-dotenv, the parser Dagster's own CLI uses on
the same file, never by make: make's `include` cut `FRED_API_KEY=ab#cd$efg` to `ab` and kept a
trailing comment's space. The rules are python-dotenv's: `#` starts a comment only at the start
of a line or after whitespace, `$name` is kept as written, `${NAME}` is replaced by NAME's value,
quotes around a value are removed.

Values in `.env` win over the environment, as they do in Dagster's CLI, which applies the file
again when `dg` starts. A variable set both in the environment and in `.env` to different values
is therefore refused in one line instead of being overridden silently; `--set` values (the demo's
`CROSSWIND_SOURCE=sample`) count as set in the environment.

Then CROSSWIND_WAREHOUSE_DIR is made absolute, DAGSTER_HOME defaults to
`<warehouse>/dagster_home` and is created with the shipped dagster.yaml
(orchestration/lib/instance.py), and the command replaces this process. Paths travel in
the environment, never through a shell, so a repository path with spaces or quotes is harmless.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from dotenv import dotenv_values

from orchestration.lib.errors import CrosswindError
from orchestration.lib.instance import prepare_home
from orchestration.lib.settings import REPO_ROOT, load_settings

ENV_FILE = REPO_ROOT / ".env"


def environment(
    base: Mapping[str, str], forced: Mapping[str, str], env_file: Path = ENV_FILE
) -> dict[str, str]:
    """The environment a make target runs with; raises CrosswindError on a conflict."""
    file_values = (
        {k: v for k, v in dotenv_values(env_file).items() if v is not None}
        if env_file.is_file()
        else {}
    )
    wanted = {**base, **forced}
    conflicts = [
        name for name, value in file_values.items() if name in wanted and wanted[name] != value
    ]
    if conflicts:
        name = conflicts[0]
        raise CrosswindError(
            f"[.env] {name} is {wanted[name]!r} here but {file_values[name]!r} in {env_file}, "
            "and Dagster's CLI would apply the file's value: remove one of them"
        )
    env = {**wanted, **file_values}
    settings = load_settings(env)
    env["CROSSWIND_WAREHOUSE_DIR"] = str(settings.warehouse_dir)
    env.setdefault("DAGSTER_HOME", str(settings.warehouse_dir / "dagster_home"))
    return env


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    forced: dict[str, str] = {}
    while args and args[0] == "--set":
        name, _, value = args[1].partition("=")
        forced[name] = value
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.stderr.write("usage: python -m orchestration.lib.envfile [--set N=V] -- COMMAND\n")
        return 2
    try:
        env = environment(os.environ, forced)
        prepare_home(Path(env["DAGSTER_HOME"]))
    except (CrosswindError, OSError) as exc:
        sys.stderr.write(f"crosswind: {exc}\n")
        return 2
    try:
        os.execvpe(args[0], args, env)
    except OSError as exc:
        sys.stderr.write(f"crosswind: cannot run {args[0]}: {exc.strerror}\n")
    return 127


if __name__ == "__main__":
    sys.exit(main())
