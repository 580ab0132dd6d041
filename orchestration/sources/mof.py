"""Japan Ministry of Finance JGB constant-maturity yields (jgbcm_all.csv + jgbcm.csv).

MOF publishes the full history in one file and the current month in another, both as
Shift_JIS CSV with a title line, a header line and Japanese-era dates (`R8.2.27`). The English
pages publish the same table in UTF-8 with `YYYY/M/D` dates. `-` marks a tenor with no value
(e.g. the 40-year before 2007).

The current-month file as MOF publishes it ends with a blank row and a footnote row
(`※最新のcsvデータが…,,,,`). Such rows are recognised by their shape, not their wording: the
first cell does not look like a date and no other cell holds a number. They are skipped. A row
that looks like a date, or that carries yields, is data: an impossible date there still fails
with its line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from orchestration.lib.catalog import Series
from orchestration.lib.errors import SourceFormatError
from orchestration.lib.http import HttpClient
from orchestration.lib.settings import Settings
from orchestration.sources.base import OBSERVATION_COLUMNS, Batch, contained_file

SOURCE = "mof"
HISTORY_FILE = "jgbcm_all.csv"
CURRENT_FILE = "jgbcm.csv"
DEFAULT_BASE_URL = "https://www.mof.go.jp/jgbs/reference/interest_rate/"
BASE_URL_ENV = "CROSSWIND_MOF_URL"
# Where each file lives under the base URL.
URL_PATHS = {HISTORY_FILE: "data/jgbcm_all.csv", CURRENT_FILE: "jgbcm.csv"}

SERIES_ID_RE = re.compile(r"^JGB(\d{1,2})Y$")
DATE_HEADERS = ("基準日", "date")
TENOR_HEADER_RE = re.compile(r"^(\d{1,2})\s*(?:年|y)$", re.IGNORECASE)
MISSING = {"", "-"}
ERA_DATE_RE = re.compile(r"^([MTSHR])(\d{1,2}|元)\.(\d{1,2})\.(\d{1,2})$")
WESTERN_DATE_RE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
UNDECODABLE_RE = re.compile("[\x80-\x9f\ue000-\uf8ff]")
# Anything shaped like a date (`R8.2.30`, `X8.1.1`, `2026/13/1`): such a row is data and must
# parse. Footnotes are prose (`※…`, `注：…`) and never match.
DATE_SHAPED_RE = re.compile(r"^[A-Za-z]?\s*[\d元]{1,4}[./-]\d{1,2}[./-]\d{1,2}$")
NUMBER_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)$")

# era letter -> (offset so that year = offset + era year, first day, last day or None).
# Boundaries matter: a file that says H31.5.7 or S64.2.1 is corrupt, not a date.
ERAS: dict[str, tuple[int, date, date | None]] = {
    "M": (1867, date(1868, 1, 1), date(1912, 7, 29)),
    "T": (1911, date(1912, 7, 30), date(1926, 12, 24)),
    "S": (1925, date(1926, 12, 25), date(1989, 1, 7)),
    "H": (1988, date(1989, 1, 8), date(2019, 4, 30)),
    "R": (2018, date(2019, 5, 1), None),
}


def parse_era_date(text: str) -> date:
    """`R8.2.27` -> 2026-02-27 (also `YYYY/M/D`); ValueError when it is not a real date."""
    text = text.strip()
    match = ERA_DATE_RE.match(text)
    if match:
        era, year_text, month, day = match.groups()
        offset, first, last = ERAS[era]
        era_year = 1 if year_text == "元" else int(year_text)
        if era_year < 1:
            raise ValueError(f"era year 0 in {text!r}")
        parsed = date(offset + era_year, int(month), int(day))
        if parsed < first or (last is not None and parsed > last):
            raise ValueError(f"{text!r} is outside the {era} era")
        return parsed
    match = WESTERN_DATE_RE.match(text)
    if match:
        return date(*(int(g) for g in match.groups()))
    raise ValueError(f"{text!r} is neither an era date like R8.2.27 nor YYYY/M/D")


def decode(payload: bytes, file_name: str) -> str:
    # UTF-8 first: Japanese Shift_JIS text is essentially never valid UTF-8, while UTF-8 Japanese
    # text can decode as cp932 mojibake without an error.
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = payload.decode("cp932")
    except UnicodeDecodeError:
        text = None
    # Python's cp932 maps stray bytes 0x80 and 0xFD-0xFF to C1 controls / private-use code points
    # instead of failing; no MOF file contains those, so they mean the bytes are not Shift_JIS.
    if text is not None and not UNDECODABLE_RE.search(text):
        return text
    raise SourceFormatError(
        SOURCE, f"{file_name}: not Shift_JIS/cp932 or UTF-8 text (first bytes {payload[:16]!r})"
    )


def parse_jgbcm(payload: bytes, file_name: str = HISTORY_FILE) -> pd.DataFrame:
    """One MOF file -> wide frame: `date` (datetime.date) plus a float column per tenor (years)."""
    lines = decode(payload, file_name).splitlines()
    if not any(line.strip() for line in lines):
        raise SourceFormatError(SOURCE, f"{file_name}: empty file")
    header_at = next(
        (
            i
            for i, line in enumerate(lines[:5])
            if line.split(",")[0].strip().lower() in DATE_HEADERS
        ),
        None,
    )
    if header_at is None:
        first = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise SourceFormatError(
            SOURCE,
            f"{file_name}: unknown header {first[:80]!r}, expected 基準日,1年,... or Date,1Y,...",
        )
    tenors: list[int | None] = []
    for cell in lines[header_at].split(",")[1:]:
        cell = cell.strip()
        match = TENOR_HEADER_RE.match(cell)
        if match and int(match.group(1)) in tenors:
            raise SourceFormatError(SOURCE, f"{file_name}: header column {cell!r} appears twice")
        if match:
            tenors.append(int(match.group(1)))
        elif cell == "":
            tenors.append(None)
        else:
            raise SourceFormatError(SOURCE, f"{file_name}: unknown header column {cell!r}")
    dates: list[date] = []
    columns: dict[int, list[float]] = {t: [] for t in tenors if t is not None}
    for line_no, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        cells = [c.strip() for c in line.split(",")]
        if not any(cells) or is_footnote(cells):
            continue
        try:
            row_date = parse_era_date(cells[0])
        except ValueError as exc:
            raise SourceFormatError(
                SOURCE, f"{file_name} line {line_no}: impossible date {cells[0]!r} ({exc})"
            ) from None
        values = cells[1:]
        if len(values) > len(tenors) and any(values[len(tenors) :]):
            raise SourceFormatError(
                SOURCE, f"{file_name} line {line_no} ({cells[0]}): more values than header columns"
            )
        dates.append(row_date)
        for i, tenor in enumerate(tenors):
            if tenor is None:
                continue
            raw = values[i] if i < len(values) else ""
            columns[tenor].append(_value(raw, tenor, file_name, line_no, cells[0]))
    frame = pd.DataFrame({"date": pd.Series(dates, dtype=object)})
    for tenor, values in columns.items():
        frame[tenor] = pd.Series(values, dtype="float64")
    return frame


def is_footnote(cells: Sequence[str]) -> bool:
    """A note under (or between) the data: no date-shaped first cell and no number anywhere."""
    return not DATE_SHAPED_RE.match(cells[0]) and not any(NUMBER_RE.match(c) for c in cells[1:])


def _value(raw: str, tenor: int, file_name: str, line_no: int, date_text: str) -> float:
    if raw in MISSING:
        return math.nan
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise SourceFormatError(
            SOURCE,
            f"{file_name} line {line_no} ({date_text}): non-numeric yield {raw!r}",
            series=f"JGB{tenor}Y",
        )
    return value


def merge_files(history: pd.DataFrame, current: pd.DataFrame | None) -> pd.DataFrame:
    """History plus the current month; the current-month file wins on dates both carry."""
    if current is None or current.empty:
        return history
    # Only dates present in both files are replaced: duplicates inside one file stay for the
    # quality gate to report.
    kept = history[~history["date"].isin(set(current["date"]))]
    return pd.concat([kept, current], ignore_index=True).sort_values("date", kind="stable")


def to_observations(
    wide: pd.DataFrame, series: Sequence[Series], start: date | None
) -> tuple[pd.DataFrame, list[str]]:
    """Wide tenor frame -> long OBSERVATION_COLUMNS rows for the requested series."""
    if start is not None:
        wide = wide[wide["date"] >= start]
    parts, absent = [], []
    for s in series:
        match = SERIES_ID_RE.match(s.id)
        if not match:
            absent.append(s.id)
            continue
        tenor = int(match.group(1))
        if tenor not in wide.columns:
            raise SourceFormatError(SOURCE, f"no {tenor}年/{tenor}Y column in the MOF file", s.id)
        values = wide[tenor].to_numpy(dtype="float64")
        # Rows before a tenor's first value predate the bond (the 40-year starts in 2007): they
        # are not missing observations, and keeping them would trip the missing-share check.
        issued = pd.notna(values).cumsum() > 0
        parts.append(
            pd.DataFrame(
                {
                    "series_id": s.id,
                    "date": wide["date"].to_numpy()[issued],
                    "value": values[issued],
                    "units": s.units,
                    "realtime_start": pd.NaT,
                }
            )
        )
    if not parts:
        return empty_observations(), absent
    return pd.concat(parts, ignore_index=True)[OBSERVATION_COLUMNS], absent


def newest_dates(wide: pd.DataFrame, series: Sequence[Series]) -> dict[str, date]:
    """Series id -> its newest date with a yield in the files (before any `start` filter)."""
    newest = {}
    for s in series:
        match = SERIES_ID_RE.match(s.id)
        column = int(match.group(1)) if match else None
        if column in wide.columns and wide[column].notna().any():
            newest[s.id] = max(wide.loc[wide[column].notna(), "date"])
    return newest


def empty_observations() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in OBSERVATION_COLUMNS}).astype(
        {"value": "float64"}
    )


class _MofSource:
    name = SOURCE

    def __init__(self, mode: str):
        self.mode = mode

    def _payloads(self) -> dict[str, bytes]:
        """File name -> raw bytes as published; empty when the history is not available."""
        raise NotImplementedError

    def _parse(self, payloads: Mapping[str, bytes]) -> pd.DataFrame:
        history = parse_jgbcm(payloads[HISTORY_FILE], HISTORY_FILE)
        current = (
            parse_jgbcm(payloads[CURRENT_FILE], CURRENT_FILE) if CURRENT_FILE in payloads else None
        )
        return merge_files(history, current)

    def fetch(self, series: Sequence[Series], start: date | None = None) -> Batch:
        payloads = self._payloads()
        if not payloads:
            return Batch(SOURCE, self.mode, empty_observations(), absent=[s.id for s in series])
        wide = self._parse(payloads)
        frame, absent = to_observations(wide, series, start)
        return Batch(SOURCE, self.mode, frame, absent=absent, newest=newest_dates(wide, series))

    def record(self, series: Sequence[Series], dest: Path) -> list[Path]:
        payloads = self._payloads()
        self._parse(payloads)  # never record a payload replay could not read
        folder = Path(dest) / SOURCE
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for file_name, payload in payloads.items():
            path = folder / file_name
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(payload)  # raw bytes: the snapshot keeps MOF's Shift_JIS
            tmp.replace(path)
            written.append(path)
        return written


class MofReplay(_MofSource):
    """Reads `<folder>/mof/jgbcm_all.csv` and, when present, `<folder>/mof/jgbcm.csv`."""

    def __init__(self, folder: Path, mode: str = "replay"):
        super().__init__(mode)
        self.folder = Path(folder) / SOURCE

    def _payloads(self) -> dict[str, bytes]:
        if contained_file(self.folder / HISTORY_FILE, SOURCE) is None:
            return {}
        return {
            name: (self.folder / name).read_bytes()
            for name in (HISTORY_FILE, CURRENT_FILE)
            if contained_file(self.folder / name, SOURCE) is not None
        }


class MofLive(_MofSource):
    """Downloads both files from MOF (or from `CROSSWIND_MOF_URL`, e.g. a local test server)."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL, client: HttpClient | None = None):
        super().__init__("live")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._client = client

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            # MOF is a government site: one request a second is polite and costs nothing here.
            self._client = HttpClient(SOURCE, min_interval=1.0)
        return self._client

    def url(self, file_name: str) -> str:
        return self.base_url + URL_PATHS[file_name]

    def _payloads(self) -> dict[str, bytes]:
        return {
            name: self.client.get(self.url(name), expect="csv").content
            for name in (HISTORY_FILE, CURRENT_FILE)
        }


def make_source(settings: Settings) -> _MofSource:
    if settings.source_mode == "live":
        return MofLive(settings.value(BASE_URL_ENV) or DEFAULT_BASE_URL)
    return MofReplay(settings.replay_dir, mode=settings.source_mode)
