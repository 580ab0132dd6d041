"""Configuration faults: a repository path with a space and a quote, `.env` values with `#`/`$`.

The Makefile runs for real in a copy of the repository under `.../it's a repo/`. uv itself is
stood in for by a small script (in a folder with a space and a quote too) that logs how it was
called: `uv sync` is skipped (a fresh environment costs ~40 s and 1.3 GB), `uv run` is handed to
the real uv with the already-installed environment (`--no-sync`, so it is never modified) and
the copy on PYTHONPATH. So make, bash, the recipes, orchestration/lib/envfile.py and dbt all run
in the odd path; only the installation of packages is not repeated.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY = "ab#cd$efg"
COPIED = ("Makefile", "pyproject.toml", "uv.lock", "orchestration", "dbt_project")
FAKE_UV = """#!{python}
import json, os, sys
with open(os.environ["FAKE_UV_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd()}}) + "\\n")
if sys.argv[1] == "sync":
    sys.exit(0)
env = dict(os.environ, UV_PROJECT_ENVIRONMENT=os.environ["FAKE_UV_VENV"], PYTHONPATH=os.getcwd())
real = os.environ["FAKE_UV_REAL"]
os.execve(real, [real, "run", "--no-sync", *sys.argv[2:]], env)
"""


def _real_uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).is_file():
        pytest.skip("uv is not installed here")
    return found


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CROSSWIND_", "DAGSTER_", "FRED_", "MAKE", "VIRTUAL_ENV"))
    }
    return {**env, **extra}


@pytest.fixture(scope="module")
def odd_repo(tmp_path_factory) -> Path:
    """A copy of the repository whose path holds a space and a single quote."""
    root = tmp_path_factory.mktemp("paths") / "it's a repo"
    repo = root / "crosswind"
    ignore = shutil.ignore_patterns("target", "logs", "__pycache__", ".user.yml")
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=ignore)
        else:
            repo.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    return repo


def test_make_install_works_in_a_path_with_a_space_and_a_quote(odd_repo, tmp_path):
    uv = odd_repo.parent / "bin dir's" / "uv"
    uv.parent.mkdir(exist_ok=True)
    uv.write_text(FAKE_UV.format(python=sys.executable))
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR)
    (odd_repo / ".env").write_text("CROSSWIND_WAREHOUSE_DIR=wh dir's\n")
    log = tmp_path / "uv.log"
    before = {p.name for p in odd_repo.parent.iterdir()}, {p.name for p in odd_repo.iterdir()}

    proc = subprocess.run(
        ["make", "--no-print-directory", "install", f"UV={uv}"],
        cwd=odd_repo,
        env=_clean_env(
            FAKE_UV_LOG=str(log), FAKE_UV_VENV=str(REPO_ROOT / ".venv"), FAKE_UV_REAL=_real_uv()
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["argv"][:2] for c in calls] == [["sync", "--frozen"], ["run", "--frozen"]]
    assert {c["cwd"] for c in calls} == {str(odd_repo)}
    assert calls[1]["argv"][2:6] == ["python", "-m", "orchestration.lib.envfile", "--"]
    # dbt parsed the project inside the odd path, and DAGSTER_HOME was made where .env says
    assert (odd_repo / "dbt_project" / "target" / "manifest.json").is_file()
    assert (odd_repo / "wh dir's" / "dagster_home").is_dir()
    # ... and nowhere else: no folder named after a fragment of the path
    assert {p.name for p in odd_repo.parent.iterdir()} == before[0] | {"bin dir's"}
    assert {p.name for p in odd_repo.iterdir()} == before[1] | {".env", "wh dir's"}


def _with_env(repo: Path, env_text: str, **env: str) -> subprocess.CompletedProcess:
    """The make targets' first step, run from `repo`: print the environment it hands on."""
    (repo / ".env").write_text(env_text)
    show = "import json, os; print(json.dumps(dict(os.environ)))"
    return subprocess.run(
        [sys.executable, "-m", "orchestration.lib.envfile", "--", sys.executable, "-c", show],
        cwd=repo,
        env=_clean_env(PYTHONPATH=str(repo), **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_env_values_with_hash_and_dollar_arrive_unchanged(odd_repo):
    proc = _with_env(
        odd_repo,
        f"FRED_API_KEY={KEY}\n"
        "CROSSWIND_LOCK_TIMEOUT=30 # seconds\n"
        "CROSSWIND_MARKETS_DIR='quoted # kept'\n"
        "CROSSWIND_WAREHOUSE_DIR=wh dir's\n",
    )
    assert proc.returncode == 0, proc.stderr
    env = json.loads(proc.stdout)
    assert env["FRED_API_KEY"] == KEY  # make's include gave "ab"
    assert env["CROSSWIND_LOCK_TIMEOUT"] == "30"  # make kept "30 " with the comment's space
    assert env["CROSSWIND_MARKETS_DIR"] == "quoted # kept"
    assert env["CROSSWIND_WAREHOUSE_DIR"] == str(odd_repo / "wh dir's")
    assert env["DAGSTER_HOME"] == str(odd_repo / "wh dir's" / "dagster_home")


def test_a_setting_that_differs_between_shell_and_env_file_is_refused(odd_repo):
    proc = _with_env(odd_repo, "CROSSWIND_SOURCE=replay\n", CROSSWIND_SOURCE="sample")
    assert proc.returncode == 2
    message = proc.stderr.strip()
    assert message.count("\n") == 0, message
    for needle in ("[.env] CROSSWIND_SOURCE", "'sample'", "'replay'", str(odd_repo / ".env")):
        assert needle in message, message
    assert proc.stdout == ""  # the command never ran


def test_the_makefile_does_not_read_env_itself():
    text = (REPO_ROOT / "Makefile").read_text()
    lines = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not any(line.startswith(("include", "-include", "sinclude")) for line in lines)
