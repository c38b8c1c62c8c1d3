"""Systolic arrays: the closed form against SCALE-Sim's own output, case by case.

tests/data/scalesim_compute_cycles.json was produced by SCALE-Sim 3.0.0 itself
(tests/data/make_scalesim_table.py, run in a throwaway venv); the closed form in
emulator/timing/systolic.py must reproduce every case exactly.
"""
import json
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from emulator.timing import SystolicArray, TimingConfig, estimate, systolic_cycles

DATA = Path(__file__).resolve().parent / "data"
TABLE = json.loads((DATA / "scalesim_compute_cycles.json").read_text())
CASES = TABLE["cases"]


def test_table_is_scalesim_3_and_its_generator_is_committed():
    assert TABLE["scalesim_version"] == "3.0.0"
    assert (DATA / "make_scalesim_table.py").is_file()
    assert TABLE["generator"] == "tests/data/make_scalesim_table.py"


def test_table_covers_every_dataflow_and_ragged_shapes():
    # The grid must exercise shapes that are not multiples of the array, for every dataflow
    # and both orientations of a rectangular array; otherwise the test below proves little.
    for df in ("os", "ws", "is"):
        mine = [c for c in CASES if c["dataflow"] == df]
        assert len(mine) >= 300
        assert any(c["M"] % c["rows"] and c["N"] % c["cols"] and c["K"] % c["rows"]
                   for c in mine)
        assert any(c["rows"] != c["cols"] for c in mine)
        assert any(1 in (c["M"], c["N"], c["K"]) for c in mine)
    assert all(c["stall_cycles"] == 0 for c in CASES)   # compute-only counts


def test_closed_form_equals_scalesim_on_every_case():
    wrong = []
    for c in CASES:
        s = systolic_cycles(c["M"], c["N"], c["K"], c["rows"], c["cols"], c["dataflow"])
        if (s.cycles, s.scalesim_total_cycles) != (c["demand_rows"], c["total_cycles"]):
            wrong.append((c, s.cycles))
    assert not wrong, f"{len(wrong)} of {len(CASES)} differ, e.g. {wrong[:3]}"


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_estimate_of_a_well_fed_array_is_scalesims_count(df):
    # With a feed that never starves, the report's total is the array's occupancy: SCALE-Sim's
    # demand rows, split into streaming (busy) and the per-fold fill and drain.
    cfg = TimingConfig(name="t", systolic=SystolicArray(8, 4, df), bandwidth=1 << 20)
    for c in [c for c in CASES if (c["rows"], c["cols"], c["dataflow"]) == (8, 4, df)]:
        r = estimate(cfg, c["M"], c["N"], c["K"], ("e4m3", "e4m3"))
        assert r.total_cycles == c["demand_rows"]
        assert r.total_cycles == r.busy_cycles + r.stall_cycles
        assert r.stalls["operand_starvation"] == 0


@given(st.integers(1, 300), st.integers(1, 300), st.integers(1, 300), st.integers(1, 40),
       st.integers(1, 40), st.sampled_from(["os", "ws", "is"]))
def test_closed_form_is_the_fold_by_fold_sum(M, N, K, R, C, df):
    # An independent walk over the folds: each fold is padded to the full array, streams T
    # vectors with R + C - 2 cycles of skew, and (ws/is) first loads R rows of the
    # stationary operand.
    sr, sc, t = {"os": (M, N, K), "ws": (K, N, M), "is": (K, M, N)}[df]
    total = 0
    for _r0 in range(0, sr, R):
        for _c0 in range(0, sc, C):
            total += (0 if df == "os" else R) + t + R + C - 2
    assert systolic_cycles(M, N, K, R, C, df).cycles == total


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="dataflow"):
        systolic_cycles(1, 1, 1, 4, 4, "xs")
    with pytest.raises(ValueError, match="rows"):
        systolic_cycles(1, 1, 1, 0, 4, "os")
    with pytest.raises(ValueError, match="systolic dataflow"):
        SystolicArray(4, 4, "rs")
