"""The series catalog (orchestration/catalog.yaml): loaded once, validated strictly."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from orchestration.lib.calendars import SOURCE_DEFAULT_CALENDAR, CalendarName
from orchestration.lib.errors import CatalogError
from orchestration.lib.settings import DEFAULT_CATALOG_PATH, catalog_path

# The repository's catalog; `load_catalog()` reads CROSSWIND_CATALOG instead when it is set.
CATALOG_PATH = DEFAULT_CATALOG_PATH

# Ids end up in file names and SQL literals: nothing that can quote, escape or traverse.
SERIES_ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9_^=.\-]{0,39}$")
LAG_RE = re.compile(r"^(\d{1,3})(d|bd)$")

Source = Literal["fred", "treasury", "mof", "markets", "shiller", "drops", "ofr"]
Frequency = Literal["daily", "weekly", "monthly", "quarterly"]
# Longest gap between two observations of a frequency, in calendar days.
PERIOD_DAYS = {"daily": 4, "weekly": 7, "monthly": 31, "quarterly": 92}


# Abbreviation dots ("U.S.", "Feb.") but not decimal points; dashes of every width; "U S".
_ABBREVIATION_DOT = re.compile(r"(?<=[^\W\d_])\.")
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_SPACED_US = re.compile(r"\bu s\b")


def normalize_units_label(label: str) -> str:
    """The comparison key of a units label: how FRED and the catalog spell it stops mattering.

    FRED writes the same unit several ways across series and over the years (`Billions of US
    Dollars` for RRPONTSYD, `Billions of U.S. Dollars` elsewhere; `Index Feb 5, 1971=100`).
    The key folds case, Unicode forms, whitespace, abbreviation dots, dash widths and spacing
    around `=` and `,`. It never merges different units or index bases: `Index 2015=100` and
    `Index` stay distinct, so a rebased or rescaled series needs a reviewed catalog entry.
    """
    text = unicodedata.normalize("NFKC", label).casefold()
    text = _DASHES.sub("-", text)
    text = _ABBREVIATION_DOT.sub("", text)
    text = re.sub(r"\s*=\s*", "=", text)
    text = re.sub(r"\s*,\s*", ", ", text)
    text = " ".join(text.split())
    return _SPACED_US.sub("us", text)


def series_file(folder: Path, series_id: str, suffix: str = ".csv") -> Path:
    """`folder/<id><suffix>`, refusing an id that could leave the folder (defence in depth)."""
    if not SERIES_ID_RE.fullmatch(series_id):
        raise CatalogError(f"series id {series_id!r} is not a safe file name")
    return folder / f"{series_id}{suffix}"


class UnitLabel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    stored: str
    factor: float


class JumpLimit(BaseModel):
    """The largest plausible change between two consecutive observations, in stored units.

    A step is implausible when it exceeds every limit given: `max_log` (|ln(new / old)|, taken as
    exceeded when either value is <= 0) and `max_abs` (|new - old|). Index levels, prices and
    balance-sheet amounts need only `max_log`; series that live near or below zero (rates, ON RRP,
    WTI) also need `max_abs`, or every move near zero would look like a jump.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Below ln(10): a decimal slip (x10, /10, x1000 ...) is always a bigger relative step.
    max_log: float | None = Field(default=None, gt=0, lt=math.log(10))
    max_abs: float | None = Field(default=None, gt=0)
    # block: the batch is rejected (ERROR); warn: history shows such moves, so only a WARN.
    on_breach: Literal["block", "warn"] = "block"

    @model_validator(mode="after")
    def _some_limit(self) -> JumpLimit:
        if self.max_log is None and self.max_abs is None:
            raise ValueError("jump needs max_log, max_abs or both")
        return self

    @property
    def blocking(self) -> bool:
        return self.on_breach == "block"


class Series(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    source: Source
    units: str
    frequency: Frequency
    release_lag: str
    # The publisher calendar a business-day lag counts on (orchestration/lib/calendars.py);
    # omitted, the source's default (SOURCE_DEFAULT_CALENDAR).
    release_calendar: CalendarName
    staleness_days: int = Field(gt=0, le=400)
    range: tuple[float, float]
    description: str
    required: bool = True
    discontinued: bool = False
    live: str | None = None
    max_missing_share: float = Field(default=0.05, ge=0, le=1)
    vintages: bool = False
    # Plausibility: no observation before the publisher's first one; no step beyond `jump`.
    first_date: date
    jump: JumpLimit
    # Set by policy (or pinned to a policy rate): long flat stretches are normal, so the stuck
    # check skips it.
    administered: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_calendar(cls, data):
        if isinstance(data, dict) and data.get("release_calendar") is None:
            source = data.get("source")
            data = {**data, "release_calendar": SOURCE_DEFAULT_CALENDAR.get(source, "us_federal")}
        return data

    @field_validator("id")
    @classmethod
    def _safe_id(cls, v: str) -> str:
        if not SERIES_ID_RE.fullmatch(v):
            raise ValueError(f"series id {v!r} must match {SERIES_ID_RE.pattern}")
        return v

    @field_validator("release_lag")
    @classmethod
    def _lag(cls, v: str) -> str:
        if not LAG_RE.match(v):
            raise ValueError(f"release_lag {v!r} must look like '1d' or '1bd'")
        return v

    @model_validator(mode="after")
    def _range_ordered(self) -> Series:
        if self.vintages and self.source != "fred":
            raise ValueError("vintages: true is for FRED series only (ALFRED keeps the vintages)")
        lo, hi = self.range
        if not lo < hi:
            raise ValueError(f"range {self.range} must be [min, max] with min < max")
        # The daily period already spans a long weekend, so a business-day lag adds no slack.
        needed = self.release_lag_days + PERIOD_DAYS[self.frequency]
        if not self.discontinued and self.staleness_days <= needed:
            raise ValueError(
                f"staleness_days {self.staleness_days} must exceed release lag + one period "
                f"({needed} d), or every value lapses before the next one is published"
            )
        return self

    @property
    def release_lag_days(self) -> int:
        return int(LAG_RE.match(self.release_lag).group(1))

    @property
    def release_lag_business(self) -> bool:
        return self.release_lag.endswith("bd")


class MarginProduct(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str
    underlying: str
    proxy: str | None = None
    first_date: date
    required: bool = True


class Margins(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    products: dict[str, MarginProduct]
    units: dict[str, tuple[float, float]]
    # Step between consecutive margins of one product in the same unit (and the previous margin
    # a row claims vs the real previous row).
    jump: JumpLimit


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    unit_labels: dict[str, UnitLabel]
    series: dict[str, Series]
    margins: Margins
    # normalize_units_label(label) -> the unit_labels key spelled that way.
    _label_keys: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _units_known(self) -> Catalog:
        keys: dict[str, str] = {}
        for label in self.unit_labels:
            other = keys.setdefault(normalize_units_label(label), label)
            if other != label:
                raise ValueError(f"unit_labels {other!r} and {label!r} are the same label")
        self._label_keys = keys
        for s in self.series.values():
            if s.units not in self.unit_labels:
                raise ValueError(f"series {s.id}: units {s.units!r} not listed in unit_labels")
        for product, spec in self.margins.products.items():
            if not SERIES_ID_RE.fullmatch(product):
                raise ValueError(f"margin product {product!r} must match {SERIES_ID_RE.pattern}")
            for ref in (spec.underlying, spec.proxy):
                if ref is not None and ref not in self.series:
                    raise ValueError(f"margin product {product}: unknown series {ref!r}")
        return self

    def for_source(self, source: str) -> list[Series]:
        return [s for s in self.series.values() if s.source == source]

    def unit_key(self, label: str) -> str | None:
        """The unit_labels key for a units label as a source spells it (normalize_units_label)."""
        return self._label_keys.get(normalize_units_label(label))

    def unit(self, label: str) -> UnitLabel | None:
        """The stored unit and factor for a units label as a source spells it."""
        key = self.unit_key(label)
        return None if key is None else self.unit_labels[key]

    def unit_factors(self, labels) -> dict[str, float]:
        """Each known label among `labels` -> its factor to the stored unit; unknown labels
        (and non-text values) are left out, so their rows have no stored value."""
        factors = {}
        for label in labels:
            unit = self.unit(label) if isinstance(label, str) else None
            if unit is not None:
                factors[label] = unit.factor
        return factors

    def resolve_units(self, series: Series, label: str) -> str:
        """The unit_labels key for the units label a source published for `series`.

        Raises CatalogError naming the series and the label when the label is unknown, or when
        it means another kind of unit than the catalog gives the series (`Percent` for WALCL):
        a factor applied to the wrong kind of number would be silently wrong.
        """
        key = self.unit_key(label)
        if key is None:
            raise CatalogError(
                f"units label {label!r} of {series.id} is not in the catalog's unit_labels; "
                "add it to orchestration/catalog.yaml with its stored unit and factor"
            )
        stored, expected = self.unit_labels[key].stored, self.unit_labels[series.units].stored
        if stored != expected:
            raise CatalogError(
                f"units label {label!r} of {series.id} means {stored}, but the catalog stores "
                f"{series.id} as {expected} ({series.units!r})"
            )
        return key

    def stored_value(self, series_id: str, value: float, units: str | None) -> float:
        """A raw value in the series' stored unit, using the units label it arrived with."""
        unit = self.unit(units) if units else None
        if unit is None:
            unit = self.unit_labels[self.series[series_id].units]
        return value * unit.factor


def parse_catalog(data: dict) -> Catalog:
    try:
        series = {k: {"id": k, **v} for k, v in (data.get("series") or {}).items()}
        return Catalog.model_validate({**data, "series": series})
    except ValidationError as exc:
        raise CatalogError(f"invalid series catalog: {_describe(exc)}") from None
    except (AttributeError, TypeError) as exc:
        raise CatalogError(f"invalid series catalog: {type(exc).__name__}: {exc}"[:400]) from None


def _describe(exc: ValidationError, limit: int = 10) -> str:
    """Where and what, never the offending input: a catalog value can be huge."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in errors]
    more = f" (and {len(parts) - limit} more)" if len(parts) > limit else ""
    return "; ".join(text[:300] for text in parts[:limit]) + more


def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog at `path`; without one, the settings' (CROSSWIND_CATALOG or CATALOG_PATH).

    Each version of a file is read and validated once per process: the cache is keyed on the
    file's modification time and size, so an edited catalog is reread by a long-lived process
    (the UI's code server) and an unchanged one is not parsed again (~4 s at bench's 100x).
    `load_catalog.cache_clear()` forgets every file.
    """
    resolved = Path(path) if path is not None else catalog_path()
    try:
        stat = resolved.stat()
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = None  # _read_catalog reports the file it cannot read
    return _read_catalog(resolved, version)


# The repository's catalog is ~15 KB; bench/scale.py's 10x one ~250 KB and its 100x one (6,300
# series) ~2.4 MB. 16 MiB leaves room for a catalog several times that and still refuses a
# runaway file before the loader spends minutes on it (~2 s per MB).
MAX_CATALOG_BYTES = 16 * 1024 * 1024


class _StrictLoader(yaml.SafeLoader):
    """YAML that means what it says: no duplicate keys, no anchors, aliases or merge keys.

    PyYAML keeps the last of two equal keys silently (a second `RRPONTSYD:` entry would win
    unseen), and aliases expand without limit (an "alias bomb" grows to gigabytes).
    """

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _refusal(event.start_mark, f"alias *{event.anchor} (aliases are not allowed)")
        if getattr(event, "anchor", None) is not None:
            raise _refusal(event.start_mark, f"anchor &{event.anchor} (anchors are not allowed)")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        first_line: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _refusal(key_node.start_mark, "merge key '<<' (not allowed)")
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
            line = key_node.start_mark.line + 1
            if seen is not None:
                raise _refusal(
                    key_node.start_mark,
                    f"duplicate key {key!r} (first on line {seen}); YAML would keep only the last",
                    key,
                )
            first_line[key] = line
        return super().construct_mapping(node, deep)


class _Refused(Exception):
    def __init__(self, line: int, problem: str, key=None):
        self.line, self.problem, self.key = line, problem, key


def _refusal(mark, problem: str, key=None) -> _Refused:
    return _Refused(mark.line + 1, problem, key)


def load_strict_yaml(
    path: Path,
    what: str = "series catalog",
    error: type[Exception] = CatalogError,
    max_bytes: int = MAX_CATALOG_BYTES,
    section: str = "catalog",
) -> object:
    """`path` parsed by the strict loader; every problem is an `error` naming `what` and where,
    never quoting the document (the alert rules file is read this way too)."""
    try:
        with open(path, "rb") as handle:
            payload = handle.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None
    if len(payload) > max_bytes:
        raise error(f"{what} {path} is larger than {max_bytes // 1024} KiB; refused")
    try:
        return yaml.load(payload.decode("utf-8"), Loader=_StrictLoader)  # a SafeLoader subclass
    except _Refused as exc:
        where = f"[{section}/{exc.key}] " if isinstance(exc.key, str) else ""
        raise error(f"{where}{path} line {exc.line}: {exc.problem}") from None
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text") from None
    except RecursionError:
        raise error(f"{what} {path} is nested too deeply") from None
    except yaml.YAMLError as exc:
        raise error(f"cannot read {what} {path}: {str(exc)[:400]}") from None


# Where and what of a pydantic error, never the offending input (the alert rules use it too).
describe_validation_error = _describe


class _PlainDumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:
        return True  # write a shared object out in full: the loader refuses aliases


def dump_catalog(data: dict, **options) -> str:
    """Catalog YAML that `load_catalog` accepts (PyYAML writes aliases for shared objects)."""
    return yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, **options)


@cache
def _read_catalog(path: Path, version: tuple[int, int] | None = None) -> Catalog:
    data = load_strict_yaml(path)
    if not isinstance(data, dict):
        raise CatalogError(f"series catalog {path} is not a mapping of sections")
    try:
        return parse_catalog(data)
    except CatalogError as exc:
        raise CatalogError(f"{path}: {exc}") from None


load_catalog.cache_clear = _read_catalog.cache_clear  # type: ignore[attr-defined]
