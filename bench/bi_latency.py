"""Dashboard query latency on the published serving copy, measured the way a BI tool reads it.

The queries are the ones docs/bi_cookbook.md tells BI users to run (its fenced ```sql blocks), so
the bench always measures what the docs promise. Each round opens a fresh read-only connection
(like Excel/Evidence/a per-query pool), runs every query once with a full fetch, and closes.

    python bench/bi_latency.py warehouse/serving.duckdb [--rounds 30] [--json]

Exit status 0 when every connect and query succeeded, 1 when any failed (listed in the report).

Percentiles are nearest-rank (the smallest sample with at least p% of the samples at or below
it), so every reported value is a latency that was actually measured.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[1]
COOKBOOK = REPO_ROOT / "docs" / "bi_cookbook.md"

# Statements a dashboard runs. Everything else in a sql block (ATTACH, INSTALL, LOAD, SET, USE,
# PRAGMA, CREATE ...) is setup, not a dashboard query, and is skipped.
QUERY_KEYWORDS = frozenset({"select", "with", "from", "pivot", "unpivot", "table", "values"})
MAX_ERRORS_KEPT = 200  # the error texts kept; `error_count` has the total
_NAME_MAX = 48

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")
_HEADING = re.compile(r"^#{1,6}[ \t]+(?P<text>.+?)[ \t]*#*[ \t]*$")
_FILE_HINT = re.compile(r"`(?:[^`]*/)?(?P<stem>[\w.-]+)\.sql`")
_RELATION = re.compile(r"\b(?:from|join)\s+(?P<rel>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)", re.I)


# --- cookbook parsing ---------------------------------------------------------------------------


def _slug(text: str, limit: int = _NAME_MAX) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if len(slug) > limit:
        cut = slug[:limit]
        slug = cut.rsplit("_", 1)[0] if "_" in cut else cut
    return slug


def fenced_blocks(markdown: str) -> list[tuple[str, str, str, str]]:
    """(section heading, text of the line before the fence, info string, code) of every fenced
    block at the top level of `markdown` (blocks nested in a longer fence stay in its code)."""
    blocks: list[tuple[str, str, str, str]] = []
    heading = ""
    previous = ""
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        opened = _FENCE.match(line)
        if opened is None:
            found = _HEADING.match(line)
            if found:
                heading = found.group("text")
            if line.strip():
                previous = line.strip()
            i += 1
            continue
        fence, indent = opened.group("fence"), len(opened.group("indent"))
        body: list[str] = []
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            kept = indent == 0 or lines[i][:indent].isspace()
            body.append(lines[i][indent:] if kept else lines[i].lstrip())
            i += 1
        i += 1  # the closing fence (or the end of an unclosed block)
        blocks.append((heading, previous, opened.group("info").strip(), "\n".join(body)))
        previous = ""
    return blocks


def _sql_blocks(markdown: str) -> list[tuple[str, str, str]]:
    """(section heading, text of the line before the fence, code) of every ```sql block."""
    return [
        (heading, previous, code)
        for heading, previous, info, code in fenced_blocks(markdown)
        if info.split()[:1] and info.split()[0].lower() == "sql"
    ]


def split_statements(sql: str) -> list[tuple[str, str]]:
    """(leading comment, statement) pairs of a SQL script, split on `;` outside quotes/comments.

    CLI dot-commands (`.tables`, `.mode markdown`) at the start of a statement are dropped. A
    `-- comment` after a `;` on the same line belongs to that statement, not to the next one.
    """
    out: list[tuple[str, str]] = []
    comments: list[str] = []  # comment lines before the statement's first token
    buf: list[str] = []  # the statement text, comments inside it included
    n = len(sql)
    i = 0

    def flush() -> None:
        text = "".join(buf).strip()
        if text:
            out.append((" ".join(c for c in comments if c), text))
        buf.clear()
        comments.clear()

    while i < n:
        ch = sql[i]
        started = bool("".join(buf).strip())
        if not started and ch in " \t\r\n":
            i += 1
            continue
        if not started and ch == "." and not sql[sql.rfind("\n", 0, i) + 1 : i].strip():
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1  # a dot-command: one line, no `;`
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            if started:
                buf.append(sql[i:end])
            else:
                comments.append(sql[i + 2 : end].strip())
            i = end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            if started:
                buf.append(sql[i:end])
            else:
                comments.append(sql[i + 2 : end - 2].strip())
            i = end
            continue
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # doubled quote inside the literal
                        end += 2
                        continue
                    break
                end += 1
            buf.append(sql[i : end + 1])
            i = end + 1
            continue
        if ch == ";":
            flush()
            i += 1
            while i < n and sql[i] in " \t":
                i += 1
            if sql.startswith("--", i):  # a trailing comment of the statement just ended
                end = sql.find("\n", i)
                i = n if end < 0 else end
            continue
        buf.append(ch)
        i += 1
    flush()
    return out


def _is_query(statement: str) -> bool:
    first = re.match(r"\(*\s*([A-Za-z]+)", statement)
    return bool(first) and first.group(1).lower() in QUERY_KEYWORDS


def _normalized(statement: str) -> str:
    return " ".join(statement.split()).rstrip(";").strip()


def queries_from_markdown(markdown: str) -> dict[str, str]:
    """Every dashboard query in the ```sql blocks of `markdown`, named, in document order.

    A query's name comes from its leading `-- comment`; without one, from the section heading
    plus the `file.sql` named just before the block (Evidence sources) or the first relation it
    reads. A query that appears again verbatim (whitespace aside) is kept once, under its first
    name: running it twice per round would measure nothing new.
    """
    found: dict[str, str] = {}
    seen: set[str] = set()
    for heading, previous, code in _sql_blocks(markdown):
        statements = [(c, s) for c, s in split_statements(code) if _is_query(s)]
        file_hint = _FILE_HINT.search(previous)
        for comment, statement in statements:
            key = _normalized(statement)
            if key in seen:
                continue
            seen.add(key)
            if comment:
                name = _slug(re.sub(r"\([^)]*\)", "", comment).split(":", 1)[0])
            else:
                if file_hint and len(statements) == 1:
                    hint = file_hint.group("stem")
                else:
                    rel = _RELATION.search(statement)
                    hint = rel.group("rel") if rel else str(len(found) + 1)
                name = _slug(f"{_slug(heading, 16)} {hint}")
            name = name or f"query_{len(found) + 1}"
            unique, k = name, 2
            while unique in found:
                unique, k = f"{name}_{k}", k + 1
            found[unique] = statement
    return found


def cookbook_queries(path: Path = Path("docs/bi_cookbook.md")) -> dict[str, str]:
    """The dashboard queries of the BI cookbook (see `queries_from_markdown`).

    A relative `path` that does not exist from the working directory is looked up from the repo
    root, so the bench and its tests work from any directory.
    """
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    return queries_from_markdown(path.read_text(encoding="utf-8"))


# --- measuring ----------------------------------------------------------------------------------


def percentile(samples: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `samples`; None when there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _round_ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def summarize(samples: Sequence[float]) -> dict[str, float | None]:
    return {
        "p50_ms": _round_ms(percentile(samples, 50)),
        "p95_ms": _round_ms(percentile(samples, 95)),
        "max_ms": _round_ms(max(samples) if samples else None),
    }


def _error_text(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''}"[:500]


def measure(
    serving_path: Path | str,
    queries: Mapping[str, str],
    *,
    rounds: int = 30,
    stop: threading.Event | None = None,
    connect: Callable[[], duckdb.DuckDBPyConnection] | None = None,
    keep_connection: bool = False,
) -> dict:
    """Run `queries` against `serving_path` like a BI tool that connects per refresh.

    Per round: `duckdb.connect(path, read_only=True)` (timed as connect; `connect` replaces it,
    e.g. `lake_reader`, and `serving_path` then only names what was read), then every query once
    with execute + fetchall (timed per query), then close. With `keep_connection`, the rounds
    share one connection instead, as a BI tool's connection pool does (a failed query drops it:
    the next round reconnects). Without `stop`, runs `rounds` rounds.
    With `stop`, `rounds` is ignored: rounds repeat until `stop` is set, and at least one round
    always completes (a round is never cut short, so every round measures every query).

    Nothing raises: a failed connect (e.g. the file missing) or query is recorded in `errors`
    ({"round", "query" (None for the connect), "error"}), the first MAX_ERRORS_KEPT of them;
    `error_count` is the total. Latencies cover successful executions only. `rows` is the row
    count of the last successful run, `row_counts` every distinct count seen (more than one
    means a publish changed the data mid-measurement).

    DuckDB shares one database instance per path within a process: if this process holds
    another connection to `serving_path`, the rounds reuse that instance (cheap connects, and no
    new publish is seen). Measure from a process that holds no other connection to the file.
    """
    if stop is None and rounds < 1:
        raise ValueError("rounds must be at least 1")
    path = str(serving_path)
    connect_ms: list[float] = []
    latencies: dict[str, list[float]] = {name: [] for name in queries}
    rows: dict[str, int | None] = {name: None for name in queries}
    row_counts: dict[str, set[int]] = {name: set() for name in queries}
    errors: list[dict] = []
    error_count = 0
    done = 0
    started = time.perf_counter()

    def record(round_no: int, query: str | None, exc: BaseException) -> None:
        nonlocal error_count
        error_count += 1
        if len(errors) < MAX_ERRORS_KEPT:
            errors.append({"round": round_no, "query": query, "error": _error_text(exc)})

    def close(con: duckdb.DuckDBPyConnection) -> None:
        try:
            con.close()
        except Exception as exc:
            record(done, None, exc)

    con = None
    while True:
        if con is None:
            t0 = time.perf_counter()
            try:
                con = connect() if connect else duckdb.connect(path, read_only=True)
            except Exception as exc:
                record(done, None, exc)
            else:
                connect_ms.append((time.perf_counter() - t0) * 1000)
        connected = con is not None
        if con is not None:
            failed = False
            try:
                for name, sql in queries.items():
                    t0 = time.perf_counter()
                    try:
                        result = con.execute(sql).fetchall()
                    except Exception as exc:
                        record(done, name, exc)
                        failed = True
                        continue
                    latencies[name].append((time.perf_counter() - t0) * 1000)
                    rows[name] = len(result)
                    row_counts[name].add(len(result))
            finally:
                if failed or not keep_connection:
                    close(con)
                    con = None
        done += 1
        if stop is None:
            if done >= rounds:
                break
        elif stop.is_set():
            break
        elif not connected:
            stop.wait(0.01)  # the file is missing: back off a little instead of spinning
    if con is not None:
        close(con)

    pooled = [ms for samples in latencies.values() for ms in samples]
    return {
        "serving_path": path,
        "rounds": done,
        "seconds": round(time.perf_counter() - started, 3),
        "percentile_method": "nearest-rank",
        "error_count": error_count,
        "errors": errors,
        "connect_ms": {
            "p50": _round_ms(percentile(connect_ms, 50)),
            "p95": _round_ms(percentile(connect_ms, 95)),
            "max": _round_ms(max(connect_ms) if connect_ms else None),
        },
        "queries": {
            name: {
                **summarize(latencies[name]),
                "runs": len(latencies[name]),
                "rows": rows[name],
                "row_counts": sorted(row_counts[name]),
            }
            for name in queries
        },
        "all": summarize(pooled),
    }


# --- reading the lake directly ------------------------------------------------------------------


def lake_reader(target) -> Callable[[], duckdb.DuckDBPyConnection]:
    """Connections of a BI tool that reads the DuckLake itself (docs/scaling.md, "BI tools on
    the lake"): an in-memory DuckDB with the lake attached read-only at its latest snapshot.

    The cookbook's queries name the serving copy's relations (`marts.*`, the `bi` views). So
    that the same queries run, each connection lays the same names over the lake in its own
    memory catalog: a view per lake mart, then the `bi` views (orchestration/lib/serving.py
    BI_VIEWS) that read only marts. Views over `meta.*`, which only the serving copy has, are
    left out; so are the queries that read them (`lake_queries`). Creating the views is part of
    the timed connect, as it would be for a tool that defines them per session."""
    from orchestration.lib import lake
    from orchestration.lib.serving import mart_tables

    views = _lake_bi_views()

    def open_reader() -> duckdb.DuckDBPyConnection:
        con = lake.connect(target, read_only=True)
        try:
            # Not dbt-duckdb's transient __dbt_tmp / __dbt_backup tables of a build in progress.
            marts = [
                name
                for name in mart_tables(con, lake.CATALOG)
                if not re.search(r"__dbt_(tmp|backup)$", name)
            ]
            con.execute("USE memory")
            con.execute("CREATE SCHEMA marts; CREATE SCHEMA bi")
            for mart in marts:
                con.execute(
                    f'CREATE VIEW marts."{mart}" AS SELECT * FROM {lake.CATALOG}.marts."{mart}"'
                )
            for view, sql in views.items():
                con.execute(f"CREATE VIEW bi.{view} AS {sql}")
        except BaseException:
            con.close()
            raise
        return con

    return open_reader


def _relations(sql: str) -> set[str]:
    return {m.group("rel").lower() for m in _RELATION.finditer(sql)}


def _lake_bi_views() -> dict[str, str]:
    """The serving copy's `bi` views that a lake reader can have: those not over `meta.*`."""
    from orchestration.lib.serving import BI_VIEWS

    return {
        view: sql
        for view, sql in BI_VIEWS.items()
        if not any(rel.startswith("meta.") for rel in _relations(sql))
    }


def lake_queries(queries: Mapping[str, str]) -> dict[str, str]:
    """The queries a lake reader can run: those that read no serving-only relation (`meta.*`,
    or a `bi` view the reader does not have, `_lake_bi_views`)."""
    readable = {f"bi.{view}" for view in _lake_bi_views()}

    def serving_only(rel: str) -> bool:
        return rel.startswith("meta.") or (rel.startswith("bi.") and rel not in readable)

    return {
        name: sql
        for name, sql in queries.items()
        if not any(serving_only(rel) for rel in _relations(sql))
    }


# --- CLI ----------------------------------------------------------------------------------------


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def format_table(report: Mapping) -> str:
    header = ("query", "p50 ms", "p95 ms", "max ms", "rows")
    body: list[tuple[str, ...]] = [
        (name, _fmt(q["p50_ms"]), _fmt(q["p95_ms"]), _fmt(q["max_ms"]), _fmt(q["rows"]))
        for name, q in report["queries"].items()
    ]
    c = report["connect_ms"]
    a = report["all"]
    body.append(("(connect, read-only)", _fmt(c["p50"]), _fmt(c["p95"]), _fmt(c["max"]), ""))
    body.append(("(all queries)", _fmt(a["p50_ms"]), _fmt(a["p95_ms"]), _fmt(a["max_ms"]), ""))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Iterable[str]) -> str:
        cells = list(cells)
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    out = [
        f"{report['serving_path']}: {report['rounds']} rounds in {report['seconds']} s, "
        f"{report['error_count']} errors ({report['percentile_method']} percentiles)",
        line(header),
        line("-" * w for w in widths),
        *(line(r) for r in body),
    ]
    for err in report["errors"][:10]:
        out.append(f"error round {err['round']} {err['query'] or 'connect'}: {err['error']}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Latency of the BI cookbook's dashboard queries on a serving copy."
    )
    parser.add_argument("serving_path", type=Path, help="the published serving.duckdb")
    parser.add_argument("--rounds", type=int, default=30, help="connect/query/close rounds")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--cookbook", type=Path, default=COOKBOOK, help="where the queries are")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not args.serving_path.is_file():
        parser.error(f"no serving copy at {args.serving_path}")
    queries = cookbook_queries(args.cookbook)
    if not queries:
        parser.error(f"no SQL queries found in {args.cookbook}")
    report = measure(args.serving_path, queries, rounds=args.rounds)
    if args.json:
        report = {**report, "sql": dict(queries)}
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(format_table(report) + "\n")
    return 1 if report["error_count"] else 0


if __name__ == "__main__":
    sys.exit(main())
