"""Live rehearsal: the live clients proven on genuine bytes, offline.

- `layout`: which wire-folder file answers which request (one mapping, both ways);
- `fake` and the service modules (`fred`, `fiscaldata`, `mof`, `shiller`, `yahoo`): loopback fakes
  answering from recorded bodies, else from the snapshot in each service's own format;
- `record`: the HttpClient tap behind `crosswind record --raw`;
- `run`: `crosswind rehearse`, the live job end to end against the fakes, and its summary.

Only these constants live here, so `crosswind --help` does not import pandas and Dagster.
"""

from orchestration.lib.settings import REPO_ROOT

DEFAULT_WAREHOUSE = REPO_ROOT / "warehouse" / "rehearsal"
FRED_MODES = ("auto", "api", "csv")
