"""The dot-product cycle model: presets against published rates, peak within fill and drain,
the losses of small and skinny GEMMs derived by hand, bandwidth-bound verdicts, the report's
invariants, and the closed forms against brute-force simulations written here."""
import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from emulator.timing import (Stage, TimingConfig, default_stages, estimate,
                             get_timing_preset, timing_preset_names)
from emulator.timing.model import walk

FP8 = ("e4m3", "e5m2")
FP6 = ("e3m2", "e2m3")
FP4 = ("e2m1",)

# Published dense FLOP per clock (issue 6; NVIDIA Blackwell and AMD CDNA 4 documents).
PUBLISHED = {
    "blackwell-sm": {**dict.fromkeys(FP8 + FP6, 16384), **dict.fromkeys(FP4, 32768)},
    "mi355x-cu": {**dict.fromkeys(FP8, 8192), **dict.fromkeys(FP6 + FP4, 16384)},
}


def cdiv(a, b):
    return -(-a // b)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_presets_have_the_published_dense_rates(name):
    cfg = get_timing_preset(name)
    for f, flops in PUBLISHED[name].items():
        assert cfg.peak_flops_per_cycle(f, f) == flops
    # A mixed pair runs at the slower operand's rate.
    assert cfg.peak_flops_per_cycle("e4m3", "e2m1") == PUBLISHED[name]["e4m3"]
    assert cfg.source


def test_every_preset_has_a_source_and_an_unknown_name_lists_them():
    for name in timing_preset_names():
        assert get_timing_preset(name).source
    with pytest.raises(ValueError, match="blackwell-sm"):
        get_timing_preset("h100")


def _chunk_bytes(cfg, f, mb, nb, kb):
    bits = {"e4m3": 8, "e5m2": 8, "e3m2": 6, "e2m3": 6, "e2m1": 4}[f]
    return cdiv((mb + nb) * kb * bits + (mb + nb) * cdiv(kb, 32) * 8, 8)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
@pytest.mark.parametrize("f", FP8 + FP6 + FP4)
def test_large_gemm_reaches_peak_within_fill_and_drain(name, f):
    # 8192^3 tiles exactly and is compute-bound on both presets: every cycle but the first
    # operand load, the pipeline's drain and the last tile's write-back runs at peak.
    cfg = get_timing_preset(name)
    n = 8192
    r = estimate(cfg, n, n, n, (f, f))
    mb, nb, kb = cfg.block
    fill = cdiv(_chunk_bytes(cfg, f, mb, nb, kb), cfg.bandwidth)
    drain = sum(s.latency for s in cfg.stages) - 1
    writeback = mb * nb * 4 // cfg.bandwidth
    peak_macs = PUBLISHED[name][f] // 2
    assert r.total_cycles == n ** 3 // peak_macs + fill + drain + writeback
    assert r.stalls == {"pipeline_fill": fill, "operand_starvation": 0,
                        "accumulator_hazard": 0, "pipeline_drain": drain,
                        "writeback": writeback}
    assert r.bound == "compute"
    assert r.achieved_flops_per_cycle * r.total_cycles == 2 * n ** 3
    assert r.padding_cycles == 0 and r.imbalance_cycles == 0


def test_small_gemm_loses_what_the_model_says():
    # 32^3 on the Blackwell-class SM, by hand: one block tile of one instruction tile
    # (m=32, n=256 pads N 32 -> 256); only unit 0 works: 32*256/64 = 128 beats.
    cfg = get_timing_preset("blackwell-sm")
    r = estimate(cfg, 32, 32, 32, ("e4m3", "e4m3"))
    load = cdiv(32 * 32 + 32 * 32 + 64 * 1, 128)          # A, B bytes + 64 scales = 2112 B
    assert (load, r.busy_cycles) == (17, 128)
    assert r.total_cycles == 17 + 128 + 11 + 32 * 32 * 4 // 128
    assert r.ideal_cycles == Fraction(32 ** 3, 8192)      # 4 cycles of useful work
    assert r.padding_cycles == Fraction(32 * 256 * 32 - 32 ** 3, 8192)   # 28
    assert r.imbalance_cycles == 128 - Fraction(32 * 256 * 32, 8192)     # 96: 3 units idle
    assert r.utilization == Fraction(4, r.total_cycles)


def test_skinny_gemm_loses_the_padding_of_its_narrow_side():
    # N = 8 on the MI355X-class CU (n = 32): each instruction computes 4x the outputs asked,
    # so padding is exactly 3x the useful work; every chunk is the same (128 x 8 x 128), so
    # the double-buffer recurrence has the textbook solution L + (n-1) max(L, C) + C.
    cfg = get_timing_preset("mi355x-cu")
    M, N, K = 4096, 8, 4096
    r = estimate(cfg, M, N, K, ("e4m3", "e4m3"))
    assert r.padding_cycles == 3 * r.ideal_cycles
    assert r.imbalance_cycles == 0
    chunks = (M // 128) * (K // 128)
    L = cdiv(_chunk_bytes(cfg, "e4m3", 128, 8, 128), 128)          # 17952 B -> 141 cycles
    C = 128 * 32 * 128 // 4096                                    # padded to n=32: 128
    assert (L, C) == (141, 128)
    wb = cdiv(128 * 8 * 4, 128)
    assert r.total_cycles == L + (chunks - 1) * max(L, C) + C + 11 + wb
    assert r.bound == "bandwidth"
    assert r.utilization < Fraction(1, 4)


def test_bandwidth_starved_config_is_reported_bandwidth_bound():
    fed, starved = get_timing_preset("blackwell-sm"), get_timing_preset("blackwell-sm-starved")
    assert starved.bandwidth * 8 == fed.bandwidth
    M = N = K = 4096
    r = estimate(starved, M, N, K, ("e4m3", "e4m3"))
    assert r.bound == "bandwidth" and r.stalls["operand_starvation"] > 0
    assert r.arithmetic_intensity < r.ridge_point
    chunks = (M // 128) * (N // 256) * (K // 128)
    L = cdiv(_chunk_bytes(starved, "e4m3", 128, 256, 128), 16)    # 50688 B -> 3168 cycles
    C = 128 * 256 * 128 // 8192                                   # 512
    assert r.total_cycles == L + (chunks - 1) * L + C + 11 + 128 * 256 * 4 // 16
    assert r.memory_cycles == chunks * L
    assert estimate(fed, M, N, K, ("e4m3", "e4m3")).bound == "compute"


def _brute_compute_end(G, S, owned, ii, lat, nk, ksteps, load):
    """The last compute end of a GEMM, beat by beat: chunks load in the double-buffer
    recurrence (`load` cycles each); from a chunk's start, unit u owning owned[u] tiles
    issues, for each K-step, each tile's S steps of G beats, one per ii cycles; a beat waits
    until `lat` cycles after the previous step's beat on its accumulator (tile, group)."""
    last = {}
    load_end = prev1 = prev2 = 0
    for _ in range(nk):
        load_end = max(load_end, prev2) + load
        start = max(load_end, prev1)
        end = start
        for u, r in enumerate(owned):
            t = start
            for _k in range(ksteps):
                for tile in range(r):
                    for _s in range(S):
                        for g in range(G):
                            if (u, tile, g) in last:
                                t = max(t, last[(u, tile, g)] + lat)
                            last[(u, tile, g)] = t
                            t += ii
            end = max(end, t)
        prev2, prev1 = prev1, end
    return prev1


@settings(max_examples=150, deadline=None)
@given(G=st.integers(1, 4), S=st.integers(1, 3), tiles=st.integers(1, 5),
       units=st.integers(1, 3), ii=st.integers(1, 2), lat=st.integers(1, 9),
       nk=st.integers(1, 4), bandwidth=st.sampled_from((1, 2, 4, 64)))
def test_accumulator_hazards_match_a_beat_simulation(G, S, tiles, units, ii, lat, nk,
                                                     bandwidth):
    # Instruction m x n = 1 x lanes*G, k = dot_width * S; the block tile holds `tiles`
    # instruction tiles dealt to the units (the first tiles % units get one more), and K
    # chunks of 32 K-steps. Slow feeds make the units wait between chunks, which shortens
    # (or removes) the hazard at the chunk boundary; a unit with fewer tiles waits too.
    lanes, dot = 2, 4
    stages = tuple(s if s.name != "accumulate" else Stage("accumulate", lat)
                   for s in default_stages())
    n, kb = lanes * G, 32 * dot * S
    per_unit = -(-tiles // units)
    cfg = TimingConfig(name="h", units=units, lanes=lanes, dot_width=dot, stages=stages,
                       ii=ii, instr=(1, n, dot * S), block=(tiles, n, kb),
                       acc_entries=2 * per_unit * n, bandwidth=bandwidth,
                       buffer_bytes=1 << 30)
    owned = [tiles // units + (u < tiles % units) for u in range(units)]
    load = cdiv((tiles + n) * kb * 8 + (tiles + n) * (kb // 32) * 8, 8 * bandwidth)
    w, _ = walk(cfg, tiles, n, nk * kb, "e4m3", "e4m3")
    assert w.state[1] == _brute_compute_end(G, S, owned, ii, lat, nk, 32, load)
    rep = estimate(cfg, tiles, n, nk * kb, ("e4m3", "e4m3"))
    assert rep.total_cycles == rep.busy_cycles + rep.stall_cycles


_shapes = st.integers(1, 700)


@settings(max_examples=150, deadline=None)
@given(M=_shapes, N=_shapes, K=_shapes, name=st.sampled_from(sorted(PUBLISHED)),
       bandwidth=st.sampled_from((8, 40, 128, 1000)),
       fa=st.sampled_from(("e4m3", "e3m2", "e2m1")),
       fb=st.sampled_from(("e5m2", "e2m3", "e2m1")), with_c=st.booleans())
def test_report_invariants_and_the_fast_walk_equals_the_full_walk(M, N, K, name, bandwidth,
                                                                  fa, fb, with_c):
    # Feeds from starved to lavish mix compute- and bandwidth-bound chunks in one GEMM.
    cfg = dataclasses.replace(get_timing_preset(name), bandwidth=bandwidth)
    r = estimate(cfg, M, N, K, (fa, fb), with_c)
    assert r.total_cycles == r.busy_cycles + r.stall_cycles
    assert r.total_cycles == (r.ideal_cycles + r.padding_cycles + r.imbalance_cycles
                              + r.stall_cycles)
    assert r.padding_cycles >= 0 and 0 < r.utilization <= 1
    assert r.bound == ("compute" if r.compute_cycles >= r.memory_cycles else "bandwidth")
    assert r.total_cycles >= max(r.compute_cycles, r.memory_cycles)
    # Walking every chunk (what traces do) ends exactly where the periodic jumps end.
    full, _ = walk(cfg, M, N, K, fa, fb, with_c, emit=lambda *a: None, max_chunks=10 ** 9)
    fast, _ = walk(cfg, M, N, K, fa, fb, with_c)
    assert full.state == fast.state and full.stats == fast.stats and full.fill == fast.fill


def test_mixed_formats_and_the_addend_change_bytes_not_rates():
    cfg = get_timing_preset("mi355x-cu")
    a = estimate(cfg, 1024, 1024, 1024, ("e4m3", "e2m1"))
    b = estimate(cfg, 1024, 1024, 1024, ("e4m3", "e4m3"))
    c = estimate(cfg, 1024, 1024, 1024, ("e4m3", "e4m3"), with_c=True)
    assert a.busy_cycles == b.busy_cycles                 # the FP8 side sets the pace
    assert b.bytes_read - a.bytes_read == 1024 * 1024 * (8 - 4) // 8 * (1024 // 128)
    assert c.bytes_read - b.bytes_read == 1024 * 1024 * 4  # C read once, FP32


def test_estimate_of_16384_cubed_evaluates_few_chunks():
    # Speed is shown by benchmarks/bench_estimate.py; here, why it is fast: of the 1,048,576
    # chunks, the periodic jumps evaluate only a few hundred.
    cfg = get_timing_preset("blackwell-sm")
    w, _ = walk(cfg, 16384, 16384, 16384, "e4m3", "e4m3")
    assert w.index < 1000


@pytest.mark.parametrize("kw, match", [
    (dict(units=0), "units"),
    (dict(lanes=3, instr=(1, 4, 32)), "lanes"),
    (dict(instr=(1, 4, 33)), "instr k"),
    (dict(block=(3, 4, 64), instr=(2, 4, 32)), "block"),
    (dict(block=(1, 4, 48)), "block k"),
    (dict(buffer_bytes=64), "buffer_bytes"),
    (dict(acc_entries=4), "acc_entries"),
    (dict(rates={"e4m3": 1}), "rates"),
    (dict(bandwidth=1.5), "bandwidth"),
])
def test_bad_configs_are_rejected_by_name(kw, match):
    base = dict(name="x", units=1, lanes=4, dot_width=32, instr=(1, 4, 32), block=(1, 4, 64),
                acc_entries=8, buffer_bytes=4096, bandwidth=8)
    with pytest.raises((ValueError, TypeError), match=match):
        TimingConfig(**{**base, **kw})


@pytest.mark.parametrize("args, match", [
    ((0, 1, 1, "e4m3"), "M"), ((1, 1, 1, "fp16"), "format"), ((1, 1, 1, ("e4m3",)), "formats"),
])
def test_bad_problems_are_rejected_by_name(args, match):
    with pytest.raises(ValueError, match=match):
        estimate(get_timing_preset("mi355x-cu"), *args)


def test_unpipelined_stage_raises_the_initiation_interval():
    stages = default_stages()[:-1] + (Stage("accumulate", 3, pipelined=False),)
    cfg = TimingConfig(name="u", units=1, lanes=4, dot_width=32, instr=(1, 4, 32),
                       block=(1, 4, 64), acc_entries=8, buffer_bytes=4096, bandwidth=1 << 20,
                       stages=stages)
    assert cfg.ii_eff == 3
    assert cfg.peak_macs_per_cycle("e4m3", "e4m3") == Fraction(4 * 32, 3)
    r = estimate(cfg, 1, 4, 6400, ("e4m3", "e4m3"))
    beats = 6400 // 32
    assert r.busy_cycles == 3 * beats
    assert r.stage_occupancy["accumulate"] == Fraction(3 * beats, r.total_cycles)
    assert r.stage_occupancy["multiply"] == Fraction(beats, r.total_cycles)
