"""The presets against real tensor-core outputs (Khattak & Mikaitis, BSD-2-Clause).

Always: every set of the shipped 500-case subset (golden/hardware) must match bit for bit.
When ../shared/hwdata is present: the subset must still be the first 500 lines of every full
file, and the full data (5000 cases per set) run too - set MXEMU_HWDATA_FULL=0 to skip that
part, or run it alone with ``mxemu validate-hw`` (add ``--method reference`` for the slow
reference model).
"""
import gzip
import io
import os
from pathlib import Path

import pytest

from emulator.numerics import get_preset
from emulator.numerics import hwdata as H

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "golden" / "hardware"  # from the checkout, whatever the install mode
FULL = next((p for p in (REPO.parent / "shared" / "hwdata",) if p.is_dir()), None)
SHIPPED_SETS = H.list_sets(SHIPPED)


def test_shipped_subset_layout():
    # 8 GPUs: 32 FP32-output sets and 16 FP16-output sets, 500 cases each, with the licence.
    assert len(SHIPPED_SETS) == 48
    assert sum(o == "fp32" for _, _, o in SHIPPED_SETS) == 32
    assert (SHIPPED / "LICENCE").read_text().startswith("BSD 2-Clause License")
    assert "Khattak" in (SHIPPED / "README.md").read_text()
    assert set(SHIPPED_SETS) == set(H.SET_PRESETS)


@pytest.mark.parametrize("key", SHIPPED_SETS, ids=[f"{g}-{f}-{o}" for g, f, o in SHIPPED_SETS])
def test_shipped_subset_matches(key):
    s = H.load_set(SHIPPED, *key)
    assert len(s.a) == H.SUBSET_CASES
    r = H.run_set(s)
    assert (r.matches, r.zero_sign, r.nan_payload) == (r.cases, 0, 0), H.format_row(r)
    # the preset records this set as measured on the full data
    assert get_preset(s.preset).measured[s.label] == (5000, 5000)


def test_validate_and_table(tmp_path):
    out = io.StringIO()
    results = H.validate(SHIPPED, limit=20, sets=["B200/E5M2->fp32", "V100/fp16->fp16"],
                         log=out)
    assert [r.label for r in results] == ["V100/fp16->fp16", "B200/E5M2->fp32"]
    assert all(r.ok and r.cases == 20 for r in results)
    assert "b200-fp8" in H.format_table(results)
    # a wrong model shows its first mismatches decoded
    s = H.load_set(SHIPPED, "B200", "E5M2", "fp32", limit=50)
    r = H.run_set(s, "b200-mxf8f6f4")
    assert not r.ok and r.mismatches and "case" in H.format_row(r)
    assert H.main([str(SHIPPED), "--limit", "5", "--set", "A100/tf32->fp32"], out) == 0


def test_conversions():
    assert H.fp32_to_format(0x3F800000, H.INPUT_FORMATS["E4M3"]) == 0x38
    with pytest.raises(ValueError):
        H.fp32_to_format(0x3F800001, H.INPUT_FORMATS["fp16"])
    assert H.round_fp32_to_fp16(0x3F801000) == 0x3C00  # 1 + 2^-11: a tie, to even
    assert H.fp16_to_fp32(0x3C00) == 0x3F800000 and H.fp16_to_fp32(0x8000) == 0x80000000
    assert H.fp16_to_fp32(0x0001) == 0x33800000 and H.fp16_to_fp32(0x7FFF) == 0x7FFFE000


def test_subset_regenerates(tmp_path):
    """make_subset writes deterministic gzip of the first N lines, plus the licence."""
    src = tmp_path / "src" / "V100" / "fp16"
    src.mkdir(parents=True)
    with gzip.open(src / "c_V100_fp32.txt.gz", "wt") as fh:
        fh.write("".join(f"{i:032b}\n" for i in range(10)))
    (tmp_path / "src" / "LICENCE").write_text("BSD 2-Clause License\n")
    H.make_subset(tmp_path / "src", tmp_path / "a", n=4)
    H.make_subset(tmp_path / "src", tmp_path / "b", n=4)
    fa = tmp_path / "a" / "V100" / "fp16" / "c_V100_fp32.txt.gz"
    assert fa.read_bytes() == (tmp_path / "b" / "V100" / "fp16" / "c_V100_fp32.txt.gz").read_bytes()
    assert gzip.decompress(fa.read_bytes()).decode().splitlines() == [f"{i:032b}" for i in range(4)]
    assert (tmp_path / "a" / "LICENCE").read_text().startswith("BSD")


needs_full = pytest.mark.skipif(FULL is None, reason="../shared/hwdata is not present")


@needs_full
def test_shipped_subset_is_the_first_lines_of_the_full_data():
    full_files = sorted(p.relative_to(FULL) for p in FULL.glob("*/*/*.txt.gz"))
    shipped_files = sorted(p.relative_to(SHIPPED) for p in SHIPPED.glob("*/*/*.txt.gz"))
    assert full_files == shipped_files
    for rel in full_files:
        want = H.subset_text(FULL / rel).encode()
        assert gzip.decompress((SHIPPED / rel).read_bytes()) == want, rel
    assert (SHIPPED / "LICENCE").read_bytes() == (FULL / "LICENCE").read_bytes()


FULL_SETS = H.list_sets(FULL) if FULL is not None else []


@needs_full
@pytest.mark.skipif(os.environ.get("MXEMU_HWDATA_FULL", "1") == "0",
                    reason="MXEMU_HWDATA_FULL=0")
@pytest.mark.parametrize("key", FULL_SETS, ids=[f"{g}-{f}-{o}" for g, f, o in FULL_SETS])
def test_full_data_matches(key):
    # The fast path, pinned to the reference on every shipped subset above and in
    # test_numerics_fast.py; the reference over all 5000 is `mxemu validate-hw --method
    # reference` (minutes rather than seconds).
    r = H.run_set(H.load_set(FULL, *key), method="fast")
    assert r.cases == 5000
    assert (r.matches, r.zero_sign, r.nan_payload) == (5000, 0, 0), H.format_row(r)
