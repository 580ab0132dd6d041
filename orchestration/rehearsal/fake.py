"""Every service a live client calls, faked on one loopback port, and the overrides to reach it.

    with FakeServices(wire=Path("../shared/wire"), snapshot=Path("../shared/snapshot")) as fake:
        env = fake.environment(fred_api_key=None)      # CROSSWIND_*_URL + the internet guard
        ...run the live clients with env...
        fake.served                                     # {(service, origin): requests}

Each request is mapped to its wire-layout entry by `layout.wire_request` (the same function
`crosswind record --raw` writes with), then answered by that service's fake: the recorded body
when there is one for exactly that request, else the service's behaviour over the recorded
bodies and the snapshot (see each module). The environment also routes every proxied request
here (HTTP(S)_PROXY, loopback exempt), and the fake refuses them: a client that ignores its
override fails fast and the summary names the host, instead of reaching the real service.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from pathlib import Path

from orchestration.lib import clock
from orchestration.lib.catalog import Catalog, load_catalog
from orchestration.lib.settings import CrosswindSettings
from orchestration.rehearsal import layout
from orchestration.rehearsal.answers import (
    BLOCKED,
    GENERATED,
    MISSING,
    Answer,
    Folder,
    not_found,
    published_file,
)
from orchestration.rehearsal.fiscaldata import FiscaldataFake
from orchestration.rehearsal.fred import FredFake
from orchestration.rehearsal.loopback import LoopbackServer, Reply, Request
from orchestration.rehearsal.mof import MofFake
from orchestration.rehearsal.shiller import PAGE_PATH, ShillerFake
from orchestration.rehearsal.yahoo import YahooFake

FRED_API_ROOT = "/fred"
FRED_GRAPH_PATH = "/graph/fredgraph.csv"
FISCALDATA_PATH = "/services/api/fiscal_service/v1/accounting/dts/operating_cash_balance"
MOF_BASE = "/jgbs/reference/interest_rate/"
OFR_PATH = "/financial-stress-index/data/fsi.csv"
# Path prefix -> the crosswind source whose client calls it (what layout.wire_request needs).
MOUNTS = (
    (FRED_API_ROOT + "/", "fred"),
    (FRED_GRAPH_PATH, "fred"),
    ("/services/api/fiscal_service/", "treasury"),
    ("/jgbs/", "mof"),
    (PAGE_PATH, "shiller"),
    ("/blobby/", "shiller"),
    ("/v8/finance/chart/", "markets"),
    ("/financial-stress-index/", "ofr"),
)
# One variable per endpoint: the interface for mirrors and proxies (README, "Live mode"), as
# the settings resource declares them.
URL_VARIABLES = tuple(v for v in CrosswindSettings.variables().values() if v.endswith("_URL"))
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
NO_PROXY = "127.0.0.1,localhost"


class FakeServices(LoopbackServer):
    def __init__(
        self,
        wire: Path | None,
        snapshot: Path | None = None,
        *,
        catalog: Catalog | None = None,
        today: date | None = None,
    ):
        super().__init__()
        self.wire = Folder(wire)
        self.snapshot = Folder(snapshot)
        catalog = catalog or load_catalog()
        today = today or clock.today()  # FRED's default real-time period
        self.fred = FredFake(self.wire, self.snapshot, catalog, today)
        self.fiscaldata = FiscaldataFake(self.wire, self.snapshot)
        self.mof = MofFake(self.wire, self.snapshot)
        self.shiller = ShillerFake(self.wire, self.snapshot, self.base_url)
        self.yahoo = YahooFake(self.wire, self.snapshot, catalog)
        self._lock = threading.Lock()
        self.served: Counter[tuple[str, str]] = Counter()
        self.blocked: Counter[str] = Counter()
        self.log: list[tuple[str, str, int, str]] = []  # (service, target, status, origin)
        self.errors: list[str] = []

    def environment(self, fred_api_key: str | None) -> dict[str, str]:
        """The variables that point every live client here; FRED_API_KEY picks the FRED API."""
        env = {
            "CROSSWIND_FRED_API_URL": self.url(FRED_API_ROOT),
            "CROSSWIND_FRED_CSV_URL": self.url(FRED_GRAPH_PATH),
            "CROSSWIND_FISCALDATA_URL": self.url(FISCALDATA_PATH),
            "CROSSWIND_MOF_URL": self.url(MOF_BASE),
            "CROSSWIND_SHILLER_PAGE_URL": self.url(PAGE_PATH),
            "CROSSWIND_YAHOO_URL": self.base_url,
            "CROSSWIND_OFR_URL": self.url(OFR_PATH),
            "NO_PROXY": NO_PROXY,
            "no_proxy": NO_PROXY,
        }
        env.update({name: self.base_url for name in PROXY_VARIABLES})
        if fred_api_key:
            env["FRED_API_KEY"] = fred_api_key
        return env

    def respond(self, request: Request) -> Reply:
        host = request.proxied_host
        if host is not None:
            with self._lock:
                self.blocked[host] += 1
                self.log.append((BLOCKED, request.target, 403, BLOCKED))
            return Reply.text(f"crosswind rehearsal: no internet ({host} is not faked)", 403)
        try:
            service, answer = self._answer(request)
        except Exception as exc:  # a recorded body the fake cannot read: say so, keep serving
            service = "fake-error"
            message = f"crosswind rehearsal: the fake failed on {request.path}: {exc!r}"
            answer = Answer(Reply.text(message, 500), GENERATED)
            with self._lock:
                self.errors.append(message)
        with self._lock:
            self.served[(service, answer.origin)] += 1
            self.log.append((service, request.path, answer.reply.status, answer.origin))
        return answer.reply

    def _answer(self, request: Request) -> tuple[str, Answer]:
        source = next((s for prefix, s in MOUNTS if request.path.startswith(prefix)), None)
        key = layout.wire_request(source, request.target) if source else None
        if key is None:
            return "unknown", Answer(Reply.text(f"not faked: {request.path}", 404), MISSING)
        if key.service == layout.FRED_GRAPH:
            return key.service, self.fred.graph_csv(request, key)
        if key.service == layout.FRED_API:
            return key.service, self.fred.api(request, key)
        if key.service == layout.OFR:
            return key.service, published_file(self.wire, self.snapshot, key) or not_found()
        fake = {
            layout.FISCALDATA: self.fiscaldata,
            layout.MOF: self.mof,
            layout.SHILLER: self.shiller,
            layout.YAHOO: self.yahoo,
        }[key.service]
        return key.service, fake.answer(request, key)

    def served_by(self, service: str) -> dict[str, int]:
        with self._lock:
            return {o: n for (s, o), n in self.served.items() if s == service}
