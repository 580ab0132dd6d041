"""Fake Japan Ministry of Finance: the JGB yield files, Shift_JIS, as MOF publishes them.

The history file (`jgbcm_all.csv`) and any other MOF file are served as recorded, else as the
snapshot holds them (both keep MOF's bytes). When no current-month file (`jgbcm.csv`) was
recorded, one is cut from the last month of the history in MOF's shape: the title line naming
the month in the Japanese era (`国債金利情報 (令和8年6月)`), the header, that month's rows as
the history writes them, then a blank row and the `※` footnote row every real one ends with.
"""

from __future__ import annotations

from datetime import date

from orchestration.rehearsal.answers import (
    DERIVED,
    SNAPSHOT,
    Answer,
    Folder,
    not_found,
    published_file,
)
from orchestration.rehearsal.layout import WireRequest
from orchestration.rehearsal.loopback import Reply, Request
from orchestration.sources.mof import (
    CURRENT_FILE,
    DATE_HEADERS,
    ERAS,
    HISTORY_FILE,
    decode,
    parse_era_date,
)

ERA_NAMES = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}
# MOF's notice under every current-month table (clear the browser cache if the download is old).
FOOTNOTE = (
    "※最新のcsvデータがダウンロードできない場合、ご利用のブラウザにおいてキャッシュの削除を"
    "実施し再度ダウンロードください。"
)


class MofFake:
    def __init__(self, wire: Folder, snapshot: Folder):
        self.wire = wire
        self.snapshot = snapshot

    def answer(self, request: Request, key: WireRequest) -> Answer:
        found = published_file(self.wire, self.snapshot, key)
        if found is not None:
            return found
        if key.ident == CURRENT_FILE and key.plain:
            history, origin = self._history()
            if history is not None:
                return Answer(Reply.raw(current_month_file(history), "text/csv"), origin)
        return not_found()

    def _history(self) -> tuple[bytes | None, str]:
        name = f"mof/{HISTORY_FILE}"
        recorded_history = self.wire.read(name)
        if recorded_history is not None:
            return recorded_history, DERIVED
        return self.snapshot.read(name), SNAPSHOT


def current_month_file(history: bytes) -> bytes:
    """MOF's current-month file for the last month the history file covers."""
    lines = decode(history, HISTORY_FILE).splitlines()
    header_at = next(
        i for i, line in enumerate(lines) if line.split(",")[0].strip().lower() in DATE_HEADERS
    )
    header = lines[header_at]
    rows = []
    for line in lines[header_at + 1 :]:
        try:
            rows.append((parse_era_date(line.split(",")[0]), line))
        except ValueError:
            continue  # blank or footnote rows: the new file gets its own
    last = rows[-1][0]
    month = [line for day, line in rows if (day.year, day.month) == (last.year, last.month)]
    commas = "," * header.count(",")
    title = f"国債金利情報 ({era_month(last)}){commas}(単位 : %)"
    text = "\r\n".join([title, header, *month, commas, FOOTNOTE + commas]) + "\r\n"
    return text.encode("cp932")


def era_month(day: date) -> str:
    """2026-06-30 -> 令和8年6月 (the first year of an era is 元年)."""
    for letter, (offset, first, last) in ERAS.items():
        if first <= day and (last is None or day <= last):
            year = day.year - offset
            return f"{ERA_NAMES[letter]}{'元' if year == 1 else year}年{day.month}月"
    raise ValueError(f"{day} is before the Meiji era")
