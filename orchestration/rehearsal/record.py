"""`crosswind record --raw DEST`: every body the live clients receive, written in the wire layout.

`RawRecorder` is an `HttpClient` tap (orchestration/lib/http.py): each response a client hands
back is written to `DEST/<layout path>`, the path `layout.wire_request` gives, the same one the
rehearsal's fake answers from. Secrets never land on disk: `api_key` is never part of a path, and
a body quoting a secret is refused (reported, not written).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import requests

from orchestration.lib.http import redact_text
from orchestration.rehearsal.layout import wire_request

log = logging.getLogger("crosswind.rehearsal.record")


class RawRecorder:
    def __init__(self, dest: Path, secrets: Sequence[str] = ()):
        self.dest = Path(dest)
        self.secrets = [s for s in secrets if s]
        self.written: list[str] = []  # layout paths, in the order they were recorded
        self.refused: list[str] = []

    def __call__(self, source: str, url: str, response: requests.Response) -> None:
        key = wire_request(source, url)
        where = redact_text(url.split("?", 1)[0], self.secrets)
        if key is None:
            self.refused.append(f"{source}: {where} has no place in the wire layout")
            return
        body = response.content or b""
        text = body.decode("utf-8", "replace")
        if (
            redact_text(text, self.secrets) != text
            or redact_text(key.path, self.secrets) != key.path
        ):
            self.refused.append(f"{source}: {key.path} quotes a secret; not written")
            return
        path = self.dest / key.path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(body)
        tmp.replace(path)
        if key.path not in self.written:
            self.written.append(key.path)
        log.info("%s: %d bytes -> %s", source, len(body), key.path)
