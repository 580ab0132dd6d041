"""Fake fiscaldata `v1/accounting/dts/operating_cash_balance`: JSON pages, documented envelope.

Records are the union of every recorded page in the wire folder (`fiscaldata/
operating_cash_balance*.json`) and, for dates those lack, the snapshot's daily TGA closing
balances (`treasury/tga_daily.csv`, USD millions) laid out as the Daily Treasury Statement
publishes them since October 2021: four rows a day (opening balance, total deposits, total
withdrawals, closing balance), every value a string, `"null"` where none. The snapshot only has
the closing balance, so deposits and withdrawals are the day's net change split by its sign.

The query parameters work as documented: `fields`, `filter` (`field:op:value`, with eq, lt,
lte, gt, gte, in), `sort` (`-` for descending), `page[number]`, `page[size]` (at most 10,000),
`format=json`. A request the recording answers exactly is served byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date
from urllib.parse import quote

from orchestration.rehearsal.answers import (
    DERIVED,
    GENERATED,
    MISSING,
    SNAPSHOT,
    Answer,
    Folder,
    recorded,
)
from orchestration.rehearsal.layout import WireRequest
from orchestration.rehearsal.loopback import Reply, Request

DATASET = "operating_cash_balance"
MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 100
OPENING = "Treasury General Account (TGA) Opening Balance"
DEPOSITS = "Total TGA Deposits (Table II)"
WITHDRAWALS = "Total TGA Withdrawals (Table II) (-)"
CLOSING = "Treasury General Account (TGA) Closing Balance"
# field -> (label, dataType, dataFormat), as the dataset's metadata describes them.
FIELDS = {
    "record_date": ("Record Date", "DATE", "YYYY-MM-DD"),
    "account_type": ("Type of Account", "STRING", "String"),
    "close_today_bal": ("Closing Balance Today", "CURRENCY", "$10.20"),
    "open_today_bal": ("Opening Balance Today", "CURRENCY", "$10.20"),
    "open_month_bal": ("Opening Balance This Month", "CURRENCY", "$10.20"),
    "open_fiscal_year_bal": ("Opening Balance This Fiscal Year", "CURRENCY", "$10.20"),
    "table_nbr": ("Table Number", "STRING", "String"),
    "table_nm": ("Table Name", "STRING", "String"),
    "sub_table_name": ("Sub Table Name", "STRING", "String"),
    "src_line_nbr": ("Source Line Number", "INTEGER", "10"),
    "record_fiscal_year": ("Fiscal Year", "YEAR", "YYYY"),
    "record_fiscal_quarter": ("Fiscal Quarter Number", "QUARTER", "Q"),
    "record_calendar_year": ("Calendar Year", "YEAR", "YYYY"),
    "record_calendar_quarter": ("Calendar Quarter Number", "QUARTER", "Q"),
    "record_calendar_month": ("Calendar Month Number", "MONTH", "MM"),
    "record_calendar_day": ("Calendar Day Number", "DAY", "DD"),
}
QUERY_PARAMETERS = ("fields", "filter", "sort", "page[number]", "page[size]", "format")
OPERATORS = {
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


class QueryError(Exception):
    pass


class FiscaldataFake:
    def __init__(self, wire: Folder, snapshot: Folder):
        self.wire = wire
        self.snapshot = snapshot
        self._records: tuple[list[dict], str] | None = None

    def answer(self, request: Request, key: WireRequest) -> Answer:
        exact = recorded(self.wire, key)
        if exact is not None:
            return exact
        if key.ident != DATASET:
            return Answer(
                _error(f"Endpoint '{key.ident}' is not faked by the rehearsal", 404), MISSING
            )
        records, origin = self.records()
        if not records:
            return Answer(_error("No data recorded for operating_cash_balance", 404), MISSING)
        try:
            return Answer(Reply.json(_page(records, request)), origin)
        except QueryError as exc:
            return Answer(_error(str(exc), 400), GENERATED)

    def records(self) -> tuple[list[dict], str]:
        """Every record the fake knows, in date and line order, and where they came from."""
        if self._records is None:
            recorded_rows: dict[tuple[str, str], dict] = {}
            for path in self.wire.glob("fiscaldata", f"{DATASET}*.json"):
                for row in json.loads(path.read_bytes()).get("data", []):
                    recorded_rows[(row.get("record_date"), row.get("account_type"))] = row
            days = {day for day, _ in recorded_rows}
            rows = list(recorded_rows.values())
            rows += [r for r in self._snapshot_records() if r["record_date"] not in days]
            rows.sort(key=lambda r: (r.get("record_date", ""), int(r.get("src_line_nbr") or 0)))
            self._records = (rows, DERIVED if recorded_rows else SNAPSHOT)
        return self._records

    def _snapshot_records(self) -> list[dict]:
        payload = self.snapshot.read("treasury/tga_daily.csv")
        if payload is None:
            return []
        closes: list[tuple[date, float]] = []
        for row in csv.DictReader(io.StringIO(payload.decode("utf-8-sig"))):
            value = (row.get("tga_close_usd_mn") or "").strip()
            if value:
                closes.append((date.fromisoformat(row["record_date"].strip()), float(value)))
        out: list[dict] = []
        previous = month_open = year_open = None
        month_flows = year_flows = (0.0, 0.0)
        for day, close in closes:
            opening = close if previous is None else previous[1]
            if previous is None or (previous[0].year, previous[0].month) != (day.year, day.month):
                month_open, month_flows = opening, (0.0, 0.0)
            if previous is None or _fiscal_year(previous[0]) != _fiscal_year(day):
                year_open, year_flows = opening, (0.0, 0.0)
            change = close - opening
            today = (max(change, 0.0), max(-change, 0.0))
            month_flows = (month_flows[0] + today[0], month_flows[1] + today[1])
            year_flows = (year_flows[0] + today[0], year_flows[1] + today[1])
            lines = (
                (OPENING, opening, month_open, year_open),
                (DEPOSITS, today[0], month_flows[0], year_flows[0]),
                (WITHDRAWALS, today[1], month_flows[1], year_flows[1]),
                (CLOSING, close, None, None),
            )
            for number, (label, amount, month, year) in enumerate(lines, start=1):
                out.append(_record(day, number, label, amount, month, year))
            previous = (day, close)
        return out


def _record(day: date, line: int, label: str, today, month, year) -> dict:
    return {
        "record_date": day.isoformat(),
        "account_type": label,
        "close_today_bal": "null",
        "open_today_bal": _amount(today),
        "open_month_bal": _amount(month),
        "open_fiscal_year_bal": _amount(year),
        "table_nbr": "I",
        "table_nm": "Operating Cash Balance",
        "sub_table_name": "null",
        "src_line_nbr": str(line),
        "record_fiscal_year": str(_fiscal_year(day)),
        "record_fiscal_quarter": str((day.month - 10) % 12 // 3 + 1),  # October starts Q1
        "record_calendar_year": str(day.year),
        "record_calendar_quarter": str((day.month - 1) // 3 + 1),
        "record_calendar_month": f"{day.month:02d}",
        "record_calendar_day": f"{day.day:02d}",
    }


def _fiscal_year(day: date) -> int:
    return day.year + 1 if day.month >= 10 else day.year


def _amount(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "null"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _page(records: list[dict], request: Request) -> dict:
    unknown = set(request.query) - {
        "fields",
        "filter",
        "sort",
        "page[number]",
        "page[size]",
        "format",
    }
    if unknown:
        name = sorted(unknown)[0]
        raise QueryError(f"Invalid query parameter '{name}' with value '{request.param(name)}'")
    if (request.param("format") or "json") != "json":
        raise QueryError("The rehearsal serves format=json only")
    fields = _field_list(request.param("fields")) or list(FIELDS)
    rows = [r for r in records if all(test(r) for test in _filters(request.param("filter")))]
    for name, descending in reversed(_sort(request.param("sort"))):
        rows.sort(key=lambda r, n=name: _comparable(r.get(n)), reverse=descending)
    number = _positive(request.param("page[number]") or "1", "page[number]")
    size = _positive(request.param("page[size]") or str(DEFAULT_PAGE_SIZE), "page[size]")
    if size > MAX_PAGE_SIZE:
        raise QueryError(f"page[size] {size} exceeds the maximum of {MAX_PAGE_SIZE}")
    total_pages = math.ceil(len(rows) / size)
    data = [
        {f: r.get(f, "null") for f in fields} for r in rows[(number - 1) * size : number * size]
    ]

    def link(page: int | None) -> str | None:
        if page is None:
            return None
        return f"&{quote('page[number]')}={page}&{quote('page[size]')}={size}"

    return {
        "data": data,
        "meta": {
            "count": len(data),
            "labels": {f: FIELDS[f][0] for f in fields},
            "dataTypes": {f: FIELDS[f][1] for f in fields},
            "dataFormats": {f: FIELDS[f][2] for f in fields},
            "total-count": len(rows),
            "total-pages": total_pages,
        },
        "links": {
            "self": link(number),
            "first": link(1),
            "prev": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < total_pages else None,
            "last": link(max(total_pages, 1)),
        },
    }


def _field_list(text: str | None) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise QueryError(f"Invalid query parameter 'fields' with value '{text}': {unknown[0]}")
    return names


def _filters(text: str | None) -> list:
    tests = []
    for clause in _split_outside_parentheses(text or ""):
        parts = clause.split(":", 2)
        if len(parts) != 3 or parts[0] not in FIELDS or parts[1] not in (*OPERATORS, "in"):
            raise QueryError(f"Invalid query parameter 'filter' with value '{text}'")
        name, op, value = parts
        if op == "in":
            wanted = {v.strip() for v in value.strip("()").split(",")}
            tests.append(lambda r, n=name, w=wanted: r.get(n) in w)
        else:
            compare = OPERATORS[op]
            tests.append(
                lambda r, n=name, v=value, c=compare: c(_comparable(r.get(n)), _comparable(v))
            )
    return tests


def _split_outside_parentheses(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in [*parts, current] if p]


def _sort(text: str | None) -> list[tuple[str, bool]]:
    keys = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        name = item.lstrip("-+")
        if name not in FIELDS:
            raise QueryError(f"Invalid query parameter 'sort' with value '{text}'")
        keys.append((name, item.startswith("-")))
    return keys


def _comparable(value):
    """Numbers compare as numbers, everything else (ISO dates included) as text."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _positive(text: str, name: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise QueryError(f"Invalid query parameter '{name}' with value '{text}'")
    return number


def _error(message: str, status: int) -> Reply:
    return Reply.json({"error": "Invalid Query Param", "message": message}, status=status)
