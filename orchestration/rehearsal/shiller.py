"""Fake Shiller data site: the publisher's page and the workbooks it links.

As public reports describe the real one: the page links the current `ie_data.xls` under a path
that changes with each upload (`.../downloads/<folder>/ie_data.xls?ver=<token>`), while the old
fixed address without a folder (`.../downloads/ie_data.xls`) keeps answering 200 with a copy
frozen in 2024 (`shiller/ie_data_frozen_2024.xls` in the wire folder; 404 when none was
recorded). The current workbook is the recorded one, else the snapshot's.

No genuine copy of the page was found, so unless the wire folder holds a recorded
`shiller/page.html` (whose workbook links are then pointed at the fake), the page is generated:
a plain HTML page whose links carry the same path shapes, next to another workbook so that a
client has to pick `ie_data.xls` by name.
"""

from __future__ import annotations

import hashlib
import re

from orchestration.rehearsal.answers import (
    DERIVED,
    GENERATED,
    Answer,
    Folder,
    not_found,
    published_file,
)
from orchestration.rehearsal.layout import SHILLER_PAGE, SHILLER_WORKBOOK, WireRequest
from orchestration.rehearsal.loopback import Reply, Request

PAGE_PATH = "/shillerdata/"
# The real site's download folder (img1.wsimg.com), on the fake's host.
DOWNLOADS = "/blobby/go/e5e77e0b-59d1-44d9-ab25-4763ac982e53/downloads"
OLD_ADDRESS = f"{DOWNLOADS}/{SHILLER_WORKBOOK}"
_ABSOLUTE_XLS = re.compile(r"""https?://[^\s"'<>]+?(/[^\s"'<>?]+\.xlsx?)(\?[^\s"'<>]*)?""")


class ShillerFake:
    def __init__(self, wire: Folder, snapshot: Folder, base_url: str):
        self.wire = wire
        self.snapshot = snapshot
        self.base_url = base_url

    def answer(self, request: Request, key: WireRequest) -> Answer:
        if key.endpoint == "page":
            page = self.wire.read(f"shiller/{SHILLER_PAGE}")
            if page is not None:
                # A recorded page links the real host: keep the client on the fake.
                text = _ABSOLUTE_XLS.sub(
                    lambda m: self.base_url + m.group(1) + (m.group(2) or ""),
                    page.decode("utf-8", "replace"),
                )
                return Answer(Reply.html(text), DERIVED)
            return Answer(Reply.html(self._page()), GENERATED)
        return published_file(self.wire, self.snapshot, key) or not_found()

    def current_workbook(self) -> bytes | None:
        name = f"shiller/{SHILLER_WORKBOOK}"
        return self.wire.read(name) or self.snapshot.read(name)

    def current_url(self) -> str:
        """Where the page says the current workbook is: a folder and token per upload."""
        digest = hashlib.sha256(self.current_workbook() or b"").hexdigest()
        folder, token = digest[:8], int(digest[8:18], 16)
        return f"{self.base_url}{DOWNLOADS}/{folder}/{SHILLER_WORKBOOK}?ver={token}"

    def _page(self) -> str:
        return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>ONLINE DATA ROBERT SHILLER</title></head>
<body>
<h1>Online Data - Robert Shiller</h1>
<p>Data on stock prices, dividends and earnings, updated monthly.</p>
<ul>
<li><a href="{self.current_url()}" target="_blank">
  U.S. Stock Markets 1871-Present and CAPE Ratio</a></li>
<li><a href="{self.base_url}{DOWNLOADS}/home/Fig3-1.xls" target="_blank">
  US Home Prices 1890-Present</a></li>
</ul>
</body>
</html>
"""
