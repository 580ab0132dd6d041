"""Which file of a wire folder answers which request: the one mapping both ways.

`crosswind record --raw` writes each body the live clients receive to `wire_request(...).path`,
and the rehearsal's fake answers a request with the file at that same path: the two can never
disagree. The layout is that of `../shared/wire/README.md`:

| request (any host)                                 | file                                  |
|----------------------------------------------------|---------------------------------------|
| `.../fredgraph.csv?id=ID`                          | `fred/graph/ID.csv`                   |
| `.../fred/series?series_id=ID`                     | `fred/api/series/ID.xml`              |
| `.../fred/series/observations?series_id=ID`        | `fred/api/series/observations/ID.xml` |
| `.../fred/<endpoint>?series_id=ID` (vintagedates)  | `fred/api/<endpoint>/ID.xml`          |
| fiscaldata `.../<dataset>?...`                     | `fiscaldata/<dataset>.json`           |
| MOF `.../<name>.csv`                               | `mof/<name>.csv`                      |
| OFR `.../fsi.csv`                                  | `ofr/fsi.csv`                         |
| Shiller `.../downloads/<folder>/ie_data.xls`       | `shiller/ie_data.xls`                 |
| Shiller `.../downloads/ie_data.xls` (old address)  | `shiller/ie_data_frozen_2024.xls`     |
| Shiller's page                                     | `shiller/page.html`                   |
| `.../v8/finance/chart/SYMBOL?period1=..&period2=..`| `yahoo/chart/SYMBOL.json`             |

Query parameters that select something else than the plain request (a FRED real-time period, a
fiscaldata page or filter, a graph CSV start date) are kept in the file name after an `@`
(`fred/api/series/observations/RRPONTSYD@realtime_end=9999-12-31&realtime_start=1776-07-04.xml`),
so a recording keeps one body per distinct request. Never part of a path: secrets (`api_key`),
the format (it is the extension), parameters left at the service's documented default, and
parameters that change with every run or upload (Yahoo's `period1`/`period2`, Shiller's `ver`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

# Services, as the run summary names them, and the crosswind source whose client calls each.
FRED_GRAPH = "fred-graph"
FRED_API = "fred-api"
FISCALDATA = "fiscaldata"
MOF = "mof"
SHILLER = "shiller"
YAHOO = "yahoo"
OFR = "ofr"
SOURCE_OF = {
    FRED_GRAPH: "fred",
    FRED_API: "fred",
    FISCALDATA: "treasury",
    MOF: "mof",
    SHILLER: "shiller",
    YAHOO: "markets",
    OFR: "ofr",
}

SHILLER_WORKBOOK = "ie_data.xls"
# What the old download address (no folder segment) still answers: a copy frozen in 2024.
SHILLER_FROZEN = "ie_data_frozen_2024.xls"
SHILLER_PAGE = "page.html"
FRED_CAP_ERROR = "fred/api/errors/vintage_cap_{series_id}.xml"

SECRET_PARAMS = frozenset({"api_key"})
# Documented defaults: a parameter sent with its default value asks for the plain request.
FRED_DEFAULTS = {
    "observation_start": "1776-07-04",
    "observation_end": "9999-12-31",
    "units": "lin",
    "sort_order": "asc",
    "offset": "0",
    "output_type": "1",
}
# Per-run values: today's date in Yahoo's period2, upload tokens in Shiller's link.
RUN_DEPENDENT = {YAHOO: frozenset({"period1", "period2"}), SHILLER: frozenset({"ver"})}
YAHOO_DEFAULTS = {"interval": "1d"}
MAX_NAME = 200  # longer variant names are hashed (file systems allow 255 bytes)
_FRED_API_ENDPOINT = re.compile(r"(?:^|/)fred/(?P<endpoint>[a-z_]+(?:/[a-z_]+)?)/?$")


@dataclass(frozen=True)
class WireRequest:
    """One request as the wire layout sees it."""

    service: str
    endpoint: str  # e.g. "series/observations", "graph", "operating_cash_balance", "chart"
    ident: str  # series id, dataset, file name or symbol
    params: tuple[tuple[str, str], ...]  # the selecting parameters, sorted
    path: str  # relative path in the wire folder

    @property
    def plain(self) -> bool:
        return not self.params


def wire_request(source: str, url: str) -> WireRequest | None:
    """The layout entry for a GET that crosswind source `source` sends to `url`; None if none."""
    split = urlsplit(url)
    path = unquote(split.path)
    query = [(k, v) for k, v in parse_qsl(split.query, keep_blank_values=True)]
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if source == "fred":
        if name == "fredgraph.csv":
            return _build(FRED_GRAPH, "graph", query, "id", "fred/graph/{}.csv")
        match = _FRED_API_ENDPOINT.search(path) or re.search(
            r"(?P<endpoint>series(?:/[a-z_]+)?)/?$", path
        )
        if match is None:
            return None
        endpoint = match.group("endpoint")
        ext = _param(query, "file_type") or "xml"
        return _build(
            FRED_API,
            endpoint,
            query,
            "series_id",
            f"fred/api/{endpoint}/{{}}.{ext}",
            drop={"file_type"},
            defaults=FRED_DEFAULTS,
        )
    if source == "treasury":
        ext = _param(query, "format") or "json"
        return _build(FISCALDATA, name, query, None, f"fiscaldata/{name}.{ext}", drop={"format"})
    if source in (MOF, OFR):  # files published whole, named by their file name
        return _build(source, name, query, None, f"{source}/{name}")
    if source == "shiller":
        if name.lower().endswith((".xls", ".xlsx")):
            old_address = path.rstrip("/").split("/")[-2:-1] == ["downloads"]
            stored = SHILLER_FROZEN if name == SHILLER_WORKBOOK and old_address else name
            return _build(SHILLER, "workbook", query, None, f"shiller/{stored}")
        return _build(SHILLER, "page", query, None, f"shiller/{SHILLER_PAGE}")
    if source == "markets":
        match = re.search(r"/v8/finance/chart/(?P<symbol>[^/]+)/?$", path)
        if match is None:
            return None
        symbol = match.group("symbol")
        return _build(
            YAHOO,
            "chart",
            query,
            None,
            f"yahoo/chart/{symbol}.json",
            ident=symbol,
            defaults=YAHOO_DEFAULTS,
        )
    return None


def _param(query: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in query if k == name]
    return values[-1] if values else None


def _build(
    service: str,
    endpoint: str,
    query: list[tuple[str, str]],
    ident_param: str | None,
    template: str,
    *,
    ident: str | None = None,
    drop: set[str] = frozenset(),
    defaults: dict[str, str] | None = None,
) -> WireRequest | None:
    if ident is None:
        ident = _param(query, ident_param) if ident_param else endpoint
    if not ident or not _safe_segment(ident):
        return None
    ignored = SECRET_PARAMS | drop | RUN_DEPENDENT.get(service, frozenset()) | {ident_param}
    chosen: dict[str, str] = {}
    for key, value in query:
        if key in ignored or (defaults and defaults.get(key) == value):
            continue
        chosen[key] = value  # a repeated parameter: the last one counts, as on the services
    params = tuple(sorted(chosen.items()))
    path = template.format(ident)
    if params:
        stem, dot, ext = path.rpartition(".")
        variant = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params)
        if len(variant) + len(stem.rsplit("/", 1)[-1]) > MAX_NAME:
            variant = "sha256-" + hashlib.sha256(variant.encode("utf-8")).hexdigest()[:20]
        path = f"{stem}@{variant}{dot}{ext}"
    return WireRequest(service, endpoint, ident, params, path)


def _quote(text: str) -> str:
    return quote(text, safe="=,:-._[]~^")


def _safe_segment(text: str) -> bool:
    """A series id, symbol or file name that can never climb out of the wire folder."""
    return text not in {".", ".."} and not any(c in text for c in "/\\\x00")
