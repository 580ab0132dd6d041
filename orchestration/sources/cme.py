"""CME/COMEX gold and silver margin history: one row per change per product.

The source of truth is a curated file (`settings.margin_file`, CROSSWIND_MARGIN_FILE), extended
by newer rows a user drops as `*.csv` in `<drops_dir>/cme/` (a drop wins on the same product +
effective date); replay reads `<snapshot>/cme/margin_history.csv`. One reader takes every file
and tells its layout from the header:

- curated: `product,effective_date,initial_margin,maintenance_margin,unit,
  previous_maintenance_margin,source_file` (+ `#` comment lines). Since January 2026 CME sets
  metals margins as a percentage of notional, so every row names its unit.
- public margin history: `product,effective_date,notice_date,initial_margin,maintenance_margin,
  source_file,prev_maintenance_margin,prev_business_date,...` (the layout of the CSVs parsed
  from CME's published margin-history PDFs). It has no unit column: its amounts are USD per
  contract (the PDFs restate even the daily percentage-of-notional resets since 2026-01-13 in
  dollars). Extra columns are ignored.

Why no live client: CME publishes no documented endpoint for current margins. Its documented
Margin Service API (CME CORE) computes margins for a clearing firm's own portfolios and needs
entitled CME Group credentials; the tables on cmegroup.com are filled by an undocumented
internal endpoint, and CME blocks scripted access to its margin pages under its Data Terms of
Use (HTTP 403, "blocked for suspected scraping"). History therefore comes from CME's published
clearing advisories and margin-history files, as rows in one of the layouts above.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from orchestration.lib.catalog import Catalog, Series, load_catalog
from orchestration.lib.errors import SourceError, SourceFormatError
from orchestration.lib.settings import Settings
from orchestration.sources.base import MARGIN_COLUMNS, Batch, contained_file

SOURCE = "cme"
SNAPSHOT_FILE = "margin_history.csv"
# The public margin-history layout: recognised by this column, amounts in USD per contract.
PUBLIC_MARKER = "prev_maintenance_margin"
PUBLIC_UNIT = "usd_per_contract"
# Public column -> our column.
PUBLIC_RENAMES = {"prev_maintenance_margin": "previous_maintenance_margin"}
NUMERIC_COLUMNS = ["initial_margin", "maintenance_margin", "previous_maintenance_margin"]
# Columns a file may leave out: the previous value is then unknown, the source is the file.
OPTIONAL_COLUMNS = ["previous_maintenance_margin", "source_file"]


def read_margin_csv(payload: bytes, file_name: str, catalog: Catalog) -> pd.DataFrame:
    """One margin file, curated or public layout (told from the header) -> MARGIN_COLUMNS frame,
    validated against the catalog's margins section."""
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceFormatError(SOURCE, f"{file_name}: not UTF-8 text") from None
    # Whole-line comments only: pandas' comment= would also cut "notice#12.pdf" mid-line.
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise SourceFormatError(SOURCE, f"{file_name}: empty file, expected a header") from None
    except pd.errors.ParserError as exc:
        raise SourceFormatError(SOURCE, f"{file_name}: not a CSV table ({exc})") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    if PUBLIC_MARKER in raw.columns and "previous_maintenance_margin" not in raw.columns:
        raw = raw.rename(columns=PUBLIC_RENAMES)
        if "unit" not in raw.columns:
            raw["unit"] = PUBLIC_UNIT
    for column in OPTIONAL_COLUMNS:
        if column not in raw.columns:
            raw[column] = ""
    missing = [c for c in MARGIN_COLUMNS if c not in raw.columns]
    if missing:
        raise SourceFormatError(
            SOURCE,
            f"{file_name}: header {list(raw.columns)} lacks {missing} (expected the curated "
            f"layout {MARGIN_COLUMNS} or the public one with {PUBLIC_MARKER})",
        )
    raw = raw[MARGIN_COLUMNS].apply(lambda col: col.str.strip())
    products = catalog.margins.products
    units = catalog.margins.units
    rows = []
    for i, row in enumerate(raw.itertuples(index=False)):
        where = f"{file_name} row {i + 1}"
        if row.product not in products:
            raise SourceFormatError(
                SOURCE,
                f"{where}: unknown product {row.product!r} (catalog margins: {sorted(products)})",
                row.product or None,
            )
        if row.unit not in units:
            raise SourceFormatError(
                SOURCE,
                f"{where}: unknown unit {row.unit!r} (expected one of {sorted(units)})",
                row.product,
            )
        try:
            effective = date.fromisoformat(row.effective_date)
        except ValueError:
            raise SourceFormatError(
                SOURCE, f"{where}: unparseable effective_date {row.effective_date!r}", row.product
            ) from None
        numbers = {c: _number(getattr(row, c), c, where, row.product) for c in NUMERIC_COLUMNS}
        if math.isnan(numbers["maintenance_margin"]):
            raise SourceFormatError(SOURCE, f"{where}: empty maintenance_margin", row.product)
        rows.append(
            {
                "product": row.product,
                "effective_date": effective,
                **numbers,
                "unit": row.unit,
                "source_file": row.source_file or Path(file_name).name,
            }
        )
    return _frame(rows)


def _number(text: str, column: str, where: str, product: str) -> float:
    if text == "":
        return math.nan
    try:
        value = float(text.replace(",", ""))  # "12,500" as copied from a CME notice
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise SourceFormatError(SOURCE, f"{where}: non-numeric {column} {text!r}", product)
    return value


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=MARGIN_COLUMNS)
    for column in NUMERIC_COLUMNS:
        frame[column] = frame[column].astype("float64")
    frame["effective_date"] = frame["effective_date"].astype(object)
    return frame


def merge_margins(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Later frames win on the same product + effective date; sorted by product, date.

    Only keys repeated across files are replaced: a key repeated inside one file stays, for the
    quality gate to report.
    """
    merged = _frame([])
    for frame in frames:
        if frame.empty:
            continue
        keys = set(zip(frame["product"], frame["effective_date"], strict=True))
        stale = [
            key in keys for key in zip(merged["product"], merged["effective_date"], strict=True)
        ]
        kept = merged[~pd.Series(stale, index=merged.index, dtype=bool)]
        merged = pd.concat([kept, frame], ignore_index=True) if not kept.empty else frame
    return merged.sort_values(["product", "effective_date"], kind="stable").reset_index(drop=True)


class _MarginSource:
    name = SOURCE

    def __init__(self, mode: str, catalog: Catalog | None = None):
        self.mode = mode
        self.catalog = catalog or load_catalog()

    def history(self) -> pd.DataFrame:
        raise NotImplementedError

    def fetch(self, series: Sequence[Series] = (), start: date | None = None) -> Batch:
        """All products in the catalog; `series` is ignored (margins are not series).

        `absent` names the catalog's products with no row in the whole history (not only in the
        `start` window), so a quiet product is never reported missing; `newest` maps each
        product to its latest effective date.
        """
        frame = self.history()
        newest = {str(k): v for k, v in frame.groupby("product")["effective_date"].max().items()}
        absent = [p for p in self.catalog.margins.products if p not in newest]
        if start is not None:
            frame = frame[frame["effective_date"] >= start].reset_index(drop=True)
        return Batch(SOURCE, self.mode, frame, absent=absent, newest=newest)

    def record(self, series: Sequence[Series], dest: Path) -> list[Path]:
        """Writes the merged history in the curated layout (replay reads either layout)."""
        frame = self.history()
        folder = Path(dest) / SOURCE
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SNAPSHOT_FILE
        tmp = path.with_suffix(".tmp")
        frame.to_csv(tmp, index=False, lineterminator="\n")
        tmp.replace(path)
        return [path]


class CuratedMargins(_MarginSource):
    """The curated file in the repo plus `*.csv` drops (applied in file-name order)."""

    def __init__(self, margin_file: Path, drops_dir: Path | None, catalog: Catalog | None = None):
        super().__init__("live", catalog)
        self.margin_file = Path(margin_file)
        self.drops_dir = Path(drops_dir) if drops_dir is not None else None

    def drop_files(self) -> list[Path]:
        if self.drops_dir is None or not self.drops_dir.is_dir():
            return []
        return sorted(f for f in self.drops_dir.glob("*.csv") if contained_file(f, SOURCE))

    def history(self) -> pd.DataFrame:
        if not self.margin_file.is_file():
            raise SourceError(
                SOURCE,
                f"curated margin history {self.margin_file} not found (set CROSSWIND_MARGIN_FILE; "
                "the repo ships orchestration/sources/cme_margin_history.csv)",
            )
        files = [self.margin_file, *self.drop_files()]
        return merge_margins([read_margin_csv(f.read_bytes(), str(f), self.catalog) for f in files])


class SnapshotMargins(_MarginSource):
    """`<folder>/cme/margin_history.csv`, in either layout."""

    def __init__(self, folder: Path, mode: str = "replay", catalog: Catalog | None = None):
        super().__init__(mode, catalog)
        self.path = Path(folder) / SOURCE / SNAPSHOT_FILE

    def history(self) -> pd.DataFrame:
        if contained_file(self.path, SOURCE) is None:
            return _frame([])
        return merge_margins(
            [read_margin_csv(self.path.read_bytes(), str(self.path), self.catalog)]
        )


def make_source(settings: Settings) -> _MarginSource:
    if settings.source_mode == "live":
        return CuratedMargins(settings.margin_file, settings.drops_dir / SOURCE)
    return SnapshotMargins(settings.replay_dir, mode=settings.source_mode)
