"""The alert rules (orchestration/alerts.yaml): loaded once, validated strictly, like the catalog.

A rule reads one number a day from one mart (its *metric*) and compares it with two levels:

- `direction: above` fires when the metric reaches `enter` (>=) and clears when it falls to
  `exit` (<=), with `exit < enter`; `below` mirrors it. Between the two the state holds, so a
  value hovering at one level never flips the alert (hysteresis).
- `cooldown_days`: once the metric is back past `exit`, the rule recovers only after that many
  calendar days without re-entering; a re-entry meanwhile continues the same alert. Each alert
  is one notification when it fires and one when it recovers, never a storm.

Metrics: `column` (a number, a boolean as 1/0, or a text column mapped through `levels`),
`count_true` (how many of several boolean columns are true) or `count_items` (how many
comma-separated items a text column lists; NULL counts 0). `where` keeps rows whose columns
equal the given values. A mart of events (one row per event, `date_column` naming its date) sets
`between_events`: the metric is then evaluated on every calendar day, taking that value on days
without an event, and the most extreme event of a day counts.

Rules are checked against the marts' contracts in the dbt manifest: an unknown mart or column,
a type that cannot give a number, levels the metric can never reach, or templates that would
not render are refused on load with the rule and field named, never the file's contents.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import string
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestration.lib.catalog import describe_validation_error, load_strict_yaml
from orchestration.lib.errors import CrosswindError
from orchestration.lib.settings import REPO_ROOT, load_settings

DEFAULT_RULES_PATH = REPO_ROOT / "orchestration" / "alerts.yaml"
RULES_ENV = "CROSSWIND_ALERT_RULES"
MAX_RULES_BYTES = 256 * 1024
MARTS_SCHEMA = "marts"

RULE_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
# Identifiers end up quoted in SQL: only plain lower-case names, as dbt writes them.
COLUMN_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# The marts the alert step itself writes are never inputs to a rule.
OWN_MARTS = ("fct_alert_history", "fct_alert_summary", "fct_alert_benchmark_leads")

NUMERIC_TYPES = ("double", "float", "real", "decimal", "numeric", "integer", "int", "bigint")
NUMERIC_TYPES += ("smallint", "tinyint", "hugeint", "ubigint", "uinteger")
TEXT_TYPES = ("varchar", "text", "string")
DATE_TYPES = ("date",)

# Fields a message template may use (str.format): what happened, when, how far.
TEMPLATE_FIELDS = ("title", "date", "value", "detail", "enter", "exit", "cooldown", "since", "days")


class AlertRulesError(CrosswindError):
    """The alert rules file is invalid."""


class Metric(BaseModel):
    """One number per row of the mart (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    column: str | None = None
    levels: dict[str, float] | None = None
    count_true: tuple[str, ...] | None = None
    count_items: str | None = None
    # The sum over the mart's last N rows, this one included (e.g. selloff days in the last 10
    # trading days); NULL rows add nothing, and the sum is NULL only when all N are.
    rolling_sum: int | None = Field(default=None, ge=2, le=260)

    @model_validator(mode="after")
    def _one_kind(self) -> Metric:
        given = [k for k in ("column", "count_true", "count_items") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of column, count_true, count_items")
        if self.levels is not None:
            if self.column is None:
                raise ValueError("levels map the values of `column`; give column")
            if len(self.levels) < 2:
                raise ValueError("levels needs at least two values")
            if not all(math.isfinite(v) for v in self.levels.values()):
                raise ValueError("levels must be finite numbers")
        for name in self.columns:
            if not COLUMN_RE.fullmatch(name):
                raise ValueError(f"column {name!r} must match {COLUMN_RE.pattern}")
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        if self.count_true:
            return tuple(self.count_true)
        return (self.column or self.count_items,)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: str = Field(min_length=1, max_length=80)
    why: str = Field(min_length=1, max_length=2000)
    mart: str
    date_column: str = "date"
    where: dict[str, str | bool] = Field(default_factory=dict)
    metric: Metric
    between_events: float | None = None
    direction: Literal["above", "below"]
    enter: float
    exit: float
    cooldown_days: int = Field(ge=0, le=365)
    severity: Literal["info", "warning", "critical"] = "warning"
    detail: str | None = None
    message: str = Field(min_length=1, max_length=500)
    recovery: str = Field(min_length=1, max_length=500)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not RULE_ID_RE.fullmatch(v):
            raise ValueError(f"rule id {v!r} must match {RULE_ID_RE.pattern}")
        return v

    @field_validator("mart", "date_column", "detail")
    @classmethod
    def _identifier(cls, v: str | None) -> str | None:
        if v is not None and not COLUMN_RE.fullmatch(v):
            raise ValueError(f"{v!r} must match {COLUMN_RE.pattern}")
        return v

    @field_validator("where")
    @classmethod
    def _where(cls, v: dict) -> dict:
        for name in v:
            if not COLUMN_RE.fullmatch(name):
                raise ValueError(f"where column {name!r} must match {COLUMN_RE.pattern}")
        return v

    @field_validator("message", "recovery")
    @classmethod
    def _template(cls, v: str) -> str:
        check_template(v)
        return v

    @model_validator(mode="after")
    def _levels(self) -> Rule:
        for name in ("enter", "exit", "between_events"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number")
        if self.mart in OWN_MARTS:
            raise ValueError(f"mart {self.mart} is written by the alert step itself")
        if self.entered(self.exit) or self.exit == self.enter:
            side = "below" if self.direction == "above" else "above"
            raise ValueError(
                f"exit {self.exit:g} must lie {side} enter {self.enter:g} (direction "
                f"{self.direction}): the gap between them is the hysteresis"
            )
        if self.between_events is not None and not self.exited(self.between_events):
            raise ValueError(
                f"between_events {self.between_events:g} must be at or past exit {self.exit:g}, "
                "or an alert on an event could never clear"
            )
        low, high = self.metric_range
        reach = high if self.direction == "above" else low
        if reach is not None and not self.entered(reach):
            raise ValueError(
                f"enter {self.enter:g} is beyond what the metric can reach ({low:g} to {high:g})"
            )
        back = low if self.direction == "above" else high
        if back is not None and not self.exited(back):
            raise ValueError(
                f"exit {self.exit:g} is beyond what the metric can reach ({low:g} to {high:g}): "
                "the alert could never clear"
            )
        return self

    @property
    def metric_range(self) -> tuple[float | None, float | None]:
        """The values the metric can take, where the rule alone tells (None: unbounded)."""
        m = self.metric
        rows = m.rolling_sum or 1
        if m.levels is not None:
            low, high = min(m.levels.values()), max(m.levels.values())
            return min(low, low * rows), max(high, high * rows)
        if m.count_true is not None:
            return 0.0, float(len(m.count_true) * rows)
        if m.count_items is not None:
            return 0.0, None
        return None, None  # a number or a boolean: the mart's type decides (check_against)

    def entered(self, value: float) -> bool:
        return value >= self.enter if self.direction == "above" else value <= self.enter

    def exited(self, value: float) -> bool:
        return value <= self.exit if self.direction == "above" else value >= self.exit

    @property
    def columns(self) -> tuple[str, ...]:
        """Every mart column the rule reads."""
        extra = (self.detail,) if self.detail else ()
        return (self.date_column, *self.metric.columns, *self.where, *extra)

    @property
    def digest(self) -> str:
        """A short hash of the rule's definition: the history says which version it replays."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def check_against(self, columns: Mapping[str, str]) -> None:
        """Raise ValueError unless the mart's contract (column -> type) has what the rule reads."""

        def kind(name: str, role: str) -> str:
            if name not in columns:
                raise ValueError(f"{role} column {name!r} is not a column of marts.{self.mart}")
            return _type_kind(columns[name])

        if kind(self.date_column, "date_column") != "date":
            raise ValueError(f"date_column {self.date_column!r} of {self.mart} is not a DATE")
        m = self.metric
        if m.column is not None:
            found = kind(m.column, "metric")
            if m.levels is not None and found != "text":
                raise ValueError(f"levels map a text column; {m.column!r} is {found}")
            if m.levels is None and found not in ("number", "boolean"):
                raise ValueError(
                    f"metric column {m.column!r} is {found}: give levels to map its values"
                )
            if found == "boolean":
                low, high = 0.0, float(m.rolling_sum or 1)
                reach, back = (high, low) if self.direction == "above" else (low, high)
                if not self.entered(reach) or not self.exited(back):
                    raise ValueError(
                        f"{m.column!r} is a boolean (1 when true, 0 when false): enter "
                        f"{self.enter:g} and exit {self.exit:g} must lie within {low:g}..{high:g}"
                    )
        for name in m.count_true or ():
            if kind(name, "count_true") != "boolean":
                raise ValueError(f"count_true column {name!r} is not a boolean")
        if m.count_items is not None and kind(m.count_items, "count_items") != "text":
            raise ValueError(f"count_items column {m.count_items!r} is not a text column")
        for name, value in self.where.items():
            found = kind(name, "where")
            wanted = "boolean" if isinstance(value, bool) else "text"
            if found != wanted:
                raise ValueError(f"where {name!r} is {found}; it was compared with a {wanted}")
        if self.detail is not None:
            kind(self.detail, "detail")


def _type_kind(data_type: str) -> str:
    base = data_type.strip().lower().split("(")[0].strip()
    if base in NUMERIC_TYPES:
        return "number"
    if base in TEXT_TYPES:
        return "text"
    if base in DATE_TYPES:
        return "date"
    if base in ("boolean", "bool"):
        return "boolean"
    return base or "untyped"


def check_template(template: str) -> None:
    """Raise ValueError unless `template` uses only TEMPLATE_FIELDS, plainly, and renders."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template does not parse: {exc}") from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS:
            raise ValueError(
                f"template field {{{field}}} is not one of {', '.join(TEMPLATE_FIELDS)} "
                "(no attribute or index access)"
            )
        if conversion is not None or "{" in (spec or ""):
            raise ValueError(f"template field {{{field}}}: no conversions or nested fields")
    try:
        render(template, sample_context())
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"template does not render: {exc}") from None


def sample_context() -> dict[str, object]:
    return {
        "title": "title",
        "date": date(2026, 2, 12),
        "value": 1.5,
        "detail": "detail",
        "enter": 2.0,
        "exit": 1.0,
        "cooldown": 14,
        "since": date(2026, 2, 10),
        "days": 2,
    }


def render(template: str, context: Mapping[str, object]) -> str:
    return template.format_map({k: context[k] for k in TEMPLATE_FIELDS})


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: dict[str, Rule]

    @model_validator(mode="after")
    def _some(self) -> RuleSet:
        if not self.rules:
            raise ValueError("the rules file defines no rule")
        return self

    @property
    def marts(self) -> list[str]:
        return sorted({r.mart for r in self.rules.values()})

    def check_against(self, marts: Mapping[str, Mapping[str, str]]) -> None:
        """Every rule against the marts' contracts (mart -> column -> type)."""
        problems = []
        for rule in self.rules.values():
            if rule.mart not in marts:
                problems.append(f"rules.{rule.id}.mart: no mart {rule.mart!r} in the dbt project")
                continue
            try:
                rule.check_against(marts[rule.mart])
            except ValueError as exc:
                problems.append(f"rules.{rule.id}: {exc}")
        if problems:
            raise AlertRulesError("invalid alert rules: " + "; ".join(problems))


def parse_rules(data: object, marts: Mapping[str, Mapping[str, str]] | None = None) -> RuleSet:
    """A RuleSet from the file's mapping; checked against `marts` when given."""
    if not isinstance(data, dict):
        raise AlertRulesError("invalid alert rules: the file must be a mapping with `rules:`")
    try:
        raw = data.get("rules")
        rules = (
            {k: {"id": k, **v} if isinstance(v, dict) else v for k, v in raw.items()}
            if isinstance(raw, dict)
            else raw
        )
        ruleset = RuleSet.model_validate({**data, "rules": rules})
    except ValidationError as exc:
        raise AlertRulesError(f"invalid alert rules: {describe_validation_error(exc)}") from None
    if marts is not None:
        ruleset.check_against(marts)
    return ruleset


def rules_path() -> Path:
    """The rules file: CROSSWIND_ALERT_RULES, else the repository's orchestration/alerts.yaml.
    Read when the code location loads (the rules define its checks), so from the settings as the
    environment holds them then."""
    value = load_settings().value(RULES_ENV).strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_RULES_PATH


def mart_contracts(manifest_path: Path) -> dict[str, dict[str, str]]:
    """mart name -> column -> declared data type, from the dbt manifest (contracts enforced)."""
    try:
        manifest = json.loads(Path(manifest_path).read_text())
    except (OSError, ValueError) as exc:
        raise AlertRulesError(
            f"cannot read the dbt manifest {manifest_path} to check the alert rules: "
            f"{type(exc).__name__} (run `make manifest`)"
        ) from None
    marts: dict[str, dict[str, str]] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("schema") == MARTS_SCHEMA:
            marts[node["name"]] = {
                name: (col.get("data_type") or "") for name, col in node["columns"].items()
            }
    return marts


def load_rules(path: Path | None = None, manifest_path: Path | None = None) -> RuleSet:
    """The rules at `path` (default: rules_path()), checked against the dbt manifest's marts.

    Each (file, manifest) is read once per process (`load_rules.cache_clear()` rereads).
    """
    if manifest_path is None:
        from orchestration.defs.transform.project import dbt_project

        manifest_path = Path(dbt_project().manifest_path)
    return _read_rules(Path(path) if path is not None else rules_path(), Path(manifest_path))


@cache
def _read_rules(path: Path, manifest_path: Path) -> RuleSet:
    data = load_strict_yaml(
        path, "alert rules", AlertRulesError, max_bytes=MAX_RULES_BYTES, section="rules"
    )
    try:
        return parse_rules(data, mart_contracts(manifest_path))
    except AlertRulesError as exc:
        raise AlertRulesError(f"{path}: {exc}") from None


load_rules.cache_clear = _read_rules.cache_clear  # type: ignore[attr-defined]
