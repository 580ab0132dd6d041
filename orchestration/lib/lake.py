"""DuckLake: extensions from their PyPI packages, the catalog attached with the password kept out.

`CROSSWIND_WAREHOUSE_BACKEND=ducklake` keeps the warehouse as a DuckLake: a catalog database
(PostgreSQL for several writers, or a local DuckDB catalog file for one machine) and Parquet data
files in `CROSSWIND_DUCKLAKE_DATA`. Every crosswind connection to it, and dbt's (through the
`dbt_plugin` module named in dbt_project/profiles.yml), is prepared here:

1. DuckDB's extension autoinstall and autoload are off: nothing is ever downloaded at run time.
   `ducklake` and `postgres_scanner` are LOADed from the files the `duckdb-extension-*` packages
   install (their version is DuckDB's: pyproject pins both).
2. The PostgreSQL password is taken out of the connection string and handed to DuckDB as a
   `postgres` secret (shown `redacted` by duckdb_secrets()); the rest becomes a `ducklake` secret,
   so the ATTACH statement, duckdb_databases() and PostgreSQL's own errors never carry it.
   Errors raised here pass through `redact()` too.
3. The lake is attached as catalog `crosswind` (the name the DuckDB file has as well), so SQL
   and dbt relations read the same on both backends.
"""

from __future__ import annotations

import importlib.util
import re
import time
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb

from orchestration.lib.errors import CrosswindError
from orchestration.lib.settings import Warehouse

CATALOG = "crosswind"  # the attached lake's name, as the DuckDB file's catalog is named
LAKE_SECRET = "crosswind_lake"
PASSWORD_SECRET = "crosswind_lake_catalog_password"
INIT_RETRIES = 5
# Passed to duckdb.connect (and by dbt-duckdb's profile as config_options).
NO_DOWNLOADS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# extension name -> the PyPI package that ships its .duckdb_extension file
PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",  # data files on object storage (s3://...)
    "aws": "duckdb_extension_aws",  # ... with credentials from the AWS SDK's default chain
}
STORAGE_SECRET = "crosswind_lake_storage"


class LakeError(CrosswindError):
    """The DuckLake could not be opened; the message names what and where, never a password."""


@cache
def extension_file(name: str) -> Path:
    """The .duckdb_extension file of `name` for this DuckDB version, from its PyPI package."""
    package = PACKAGES[name]
    spec = importlib.util.find_spec(package)
    version = f"v{duckdb.__version__}"
    if spec is None or not spec.submodule_search_locations:
        raise LakeError(
            f"[ducklake] the {name} extension is not installed (Python package "
            f"{package.replace('_', '-')}=={duckdb.__version__}); run `make install`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "extensions" / version
    path = path / f"{name}.duckdb_extension"
    if not path.is_file():
        found = sorted(p.name for p in path.parent.parent.glob("v*"))
        raise LakeError(
            f"[ducklake] {package} has no build for DuckDB {version} (it has {found}): pin "
            "duckdb and the duckdb-extension-* packages to the same version"
        )
    return path


def load_extensions(con: duckdb.DuckDBPyConnection, target: Warehouse) -> None:
    """LOAD what the lake needs from the installed packages (never INSTALL from the network)."""
    names = ["ducklake", *(["postgres_scanner"] if target.postgres_catalog else [])]
    if object_storage(target):
        names += ["httpfs", "aws"]
    for name in names:
        con.execute(f"LOAD {_sql_str(str(extension_file(name)))}")


def object_storage(target: Warehouse) -> bool:
    """Whether the lake's data files live behind a URL (s3://, ...) rather than in a folder."""
    return "://" in (target.data or "")


# -- the catalog connection string ----------------------------------------------------------------

_KV = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")


def parse_conninfo(conninfo: str) -> dict[str, str]:
    """libpq's two forms (a postgres:// URI, or key=value pairs) as a dict of key -> value."""
    text = conninfo.strip()
    if text.lower().startswith(("postgresql://", "postgres://")):
        parts = urlsplit(text)
        netloc = parts.netloc
        userinfo, _, hostspec = netloc.rpartition("@")
        out: dict[str, str] = {}
        if userinfo:
            user, has_password, password = userinfo.partition(":")
            if user:
                out["user"] = unquote(user)
            if has_password:
                out["password"] = unquote(password)
        hosts, ports = [], []
        for spec in filter(None, hostspec.split(",")):
            if spec.startswith("["):  # an IPv6 literal
                host, _, rest = spec[1:].partition("]")
                port = rest.lstrip(":")
            else:
                host, _, port = spec.partition(":")
            hosts.append(unquote(host))
            ports.append(port)
        if any(hosts):
            out["host"] = ",".join(hosts)
        if any(ports):
            out["port"] = ",".join(ports)
        if parts.path.strip("/"):
            out["dbname"] = unquote(parts.path.lstrip("/"))
        out.update(parse_qsl(parts.query, keep_blank_values=True))
        return out
    out = {}
    position = 0
    while position < len(text):
        match = _KV.match(text, position)
        if match is None:
            if text[position:].strip():
                raise LakeError(
                    "[ducklake] CROSSWIND_DUCKLAKE_CATALOG is neither a postgresql:// URI nor "
                    "libpq key=value pairs"
                )
            break
        key, value = match.group(1), match.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[key] = value
        position = match.end()
    return out


def _conninfo_text(params: dict[str, str]) -> str:
    def quote(value: str) -> str:
        if value and not re.search(r"[\s'\\]", value):
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{k}={quote(v)}" for k, v in params.items())


def catalog_parts(target: Warehouse) -> tuple[str, str | None]:
    """(what DuckLake's METADATA_PATH gets, the password or None). The first never holds it."""
    catalog = target.catalog or ""
    if not target.postgres_catalog:
        return catalog, None
    params = parse_conninfo(catalog.removeprefix("postgres:"))
    password = params.pop("password", None)
    return _conninfo_text(params), password


def redact(text: str, target: Warehouse | None) -> str:
    """`text` without the catalog's password (in any spelling a message may quote it)."""
    if target is None or not target.postgres_catalog:
        return text
    try:
        _, password = catalog_parts(target)
    except LakeError:
        password = None
    secrets = {password, *(_url_forms(password) if password else ())} - {None, ""}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    # belt and braces: any password= pair or URI userinfo a message might spell out
    text = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text, flags=re.I)
    return re.sub(r"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


def _url_forms(password: str) -> set[str]:
    from urllib.parse import quote

    return {quote(password, safe=""), quote(password)}


# -- attaching ----------------------------------------------------------------------------------


def describe(target: Warehouse) -> str:
    """Where the lake is, for messages: catalog without password, and the data path."""
    try:
        where, _ = catalog_parts(target)
    except LakeError:
        where = "(unparseable connection string)"
    kind = "PostgreSQL catalog" if target.postgres_catalog else "catalog file"
    return f"DuckLake ({kind} {where}, data {target.data})"


def prepare(con: duckdb.DuckDBPyConnection, target: Warehouse) -> None:
    """Load the extensions and create the secrets `ATTACH 'ducklake:crosswind_lake'` reads."""
    load_extensions(con, target)
    metadata_path, password = catalog_parts(target)
    options = [
        f"METADATA_PATH {_sql_str(metadata_path)}",
        f"DATA_PATH {_sql_str(target.data or '')}",
    ]
    if target.postgres_catalog:
        if password is not None:
            con.execute(
                f"CREATE OR REPLACE SECRET {PASSWORD_SECRET} "
                f"(TYPE postgres, PASSWORD {_sql_str(password)})"
            )
            params = f"{{'TYPE': 'postgres', 'SECRET': '{PASSWORD_SECRET}'}}"
        else:  # PGPASSWORD, ~/.pgpass or a trusted connection
            params = "{'TYPE': 'postgres'}"
        options.append(f"METADATA_PARAMETERS MAP {params}")
    else:
        Path(metadata_path).parent.mkdir(parents=True, exist_ok=True)
    if object_storage(target):
        # The AWS SDK's chain: AWS_* variables, ~/.aws profiles, an EC2/ECS role or EKS's IRSA.
        # Nothing of it is written here; an S3-compatible store sets AWS_ENDPOINT_URL.
        try:
            con.execute(
                f"CREATE OR REPLACE SECRET {STORAGE_SECRET} (TYPE s3, PROVIDER credential_chain)"
            )
        except duckdb.Error:
            raise LakeError(
                f"[ducklake] no AWS credentials for the data files at {target.data}: set "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run with an "
                "instance or IRSA role (docs/scaling.md)"
            ) from None
    elif target.data:
        Path(target.data).mkdir(parents=True, exist_ok=True)
    con.execute(f"CREATE OR REPLACE SECRET {LAKE_SECRET} (TYPE ducklake, {', '.join(options)})")


def attach(
    con: duckdb.DuckDBPyConnection,
    target: Warehouse,
    *,
    read_only: bool = False,
    snapshot: int | None = None,
    alias: str = CATALOG,
) -> None:
    """Attach the lake as `alias` and make it the default catalog.

    `snapshot` pins a DuckLake snapshot id (read-only): what a BI reader sees stays that version.
    """
    options = []
    if read_only or snapshot is not None:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    suffix = f" ({', '.join(options)})" if options else ""
    try:
        prepare(con, target)
        for attempt in range(INIT_RETRIES):
            try:
                con.execute(f"ATTACH {_sql_str('ducklake:' + LAKE_SECRET)} AS {alias}{suffix}")
                break
            except duckdb.Error as exc:
                # Steps starting together on an empty catalog all try to create its tables; the
                # losers find them made a moment later.
                if "Failed to initialize DuckLake" not in str(exc) or attempt == INIT_RETRIES - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        con.execute(f"USE {alias}")
    except duckdb.Error as exc:
        raise LakeError(
            f"[ducklake] cannot open {describe(target)}: {redact(str(exc), target)}"
        ) from None


def connect(
    target: Warehouse, *, read_only: bool = False, snapshot: int | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as the default catalog `crosswind`."""
    con = duckdb.connect(config=dict(NO_DOWNLOADS))
    try:
        attach(con, target, read_only=read_only, snapshot=snapshot)
    except BaseException:
        con.close()
        raise
    return con


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
