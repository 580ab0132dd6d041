"""bench/scale.py's reviewed correlation pairs: linear in the assets, the regime's pairs in."""

from __future__ import annotations

from itertools import combinations

import pytest

from bench.scale import BASE_ASSET_KEYS, make_scaled_snapshot, reviewed_pairs
from orchestration.lib.errors import CrosswindError


def test_reviewed_pairs_at_100x():
    extra = [f"syn_{i:02d}" for i in range(90)]
    pairs = reviewed_pairs(extra)
    # 100 assets -> 4,950 pairs; history kept for the ten real assets' 45 and 90 anchored ones
    assert len({tuple(p) for p in pairs}) == len(pairs) == 45 + 90
    assert all(a < b for a, b in pairs)
    assert {tuple(sorted(p)) for p in combinations(BASE_ASSET_KEYS, 2)} <= {tuple(p) for p in pairs}
    assert ["sp500", "syn_89"] in pairs


def test_unknown_history_mode_is_refused(tmp_path):
    with pytest.raises(CrosswindError, match="history_pairs"):
        make_scaled_snapshot(tmp_path, tmp_path / "out", history_pairs="some")
