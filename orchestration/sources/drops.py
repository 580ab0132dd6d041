"""Optional user-supplied CSV drops for series with no free API: forward P/E, ADP, Challenger.

A drop is `<drops_dir>/<series id lowercased>.csv` (forward_pe.csv, adp.csv, challenger.csv)
with the header `date,value`; dates are YYYY-MM-DD (or YYYY-MM for a month). In replay and
sample mode the same names are read from `<replay_dir>/drops/`. A missing file is not an error:
the series goes to `Batch.absent` and the marts say the input was not supplied.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from orchestration.lib.catalog import Series
from orchestration.lib.settings import Settings
from orchestration.sources.base import OBSERVATION_COLUMNS, Batch, contained_file
from orchestration.sources.markets import read_dated_csv

SOURCE = "drops"


def file_name(series: Series | str) -> str:
    series_id = series if isinstance(series, str) else series.id
    return f"{series_id.lower()}.csv"


class DropsSource:
    name = SOURCE

    def __init__(self, folder: Path, mode: str):
        self.folder = Path(folder)
        self.mode = mode

    def path(self, series: Series) -> Path:
        return self.folder / file_name(series)

    def read(self, series: Series, start: date | None = None) -> pd.DataFrame | None:
        path = self.path(series)
        if contained_file(path, SOURCE, series.id) is None:
            return None
        frame = read_dated_csv(
            path.read_bytes(),
            source=SOURCE,
            series=series.id,
            file_name=str(path),
            required=["value"],
            month_dates=True,
        )
        if start is not None:
            frame = frame[frame["date"] >= start]
        return frame.assign(series_id=series.id, units=series.units, realtime_start=pd.NaT)[
            OBSERVATION_COLUMNS
        ]

    def fetch(self, series: Sequence[Series], start: date | None = None) -> Batch:
        parts, absent = [], []
        for s in series:
            frame = self.read(s, start)
            if frame is None:
                absent.append(s.id)
            else:
                parts.append(frame)
        if parts:
            frame = pd.concat(parts, ignore_index=True)
        else:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in OBSERVATION_COLUMNS})
            frame["value"] = frame["value"].astype("float64")
        return Batch(SOURCE, self.mode, frame, absent=absent)

    def record(self, series: Sequence[Series], dest: Path) -> list[Path]:
        """Copies the supplied drops (validated first) into `<dest>/drops/`."""
        folder = Path(dest) / SOURCE
        written = []
        for s in series:
            if self.read(s) is None:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / file_name(s)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(self.path(s).read_bytes())
            tmp.replace(target)
            written.append(target)
        return written


def make_source(settings: Settings) -> DropsSource:
    if settings.source_mode == "live":
        return DropsSource(settings.drops_dir, "live")
    return DropsSource(settings.replay_dir / SOURCE, settings.source_mode)
