"""Case generation (boundary tables crossed with significand patterns, interleaved with
random cases, as Berkeley TestFloat does) and the expected results, for every op.

The set of a Spec is a sequence of `total` cases: case i is boundary case i // 2 when i is
even and the table is not exhausted, else random case i, whose bits depend only on (seed,
i). A shard i/n is the contiguous range of cases [i*total//n, (i+1)*total//n), so the
shards of a set, concatenated in order, are exactly the unsharded set.

Dot boundary table (level 1; level 2 crosses more and keeps more of each):
  1. specials crossed: zeros of both signs, smallest and largest subnormal, smallest normal,
     one, largest normal, NaN and Inf codes of A x those of B, with C = +0, and C's own
     specials (zeros, subnormals, largest normal, NaN, +-Inf) with A = B = one;
  2. scale codes 0x00, 0x01, 0x7F, 0xFE, 0xFF (E8M0) or 0x00, 0x01, 0x38, 0x7E, 0x7F
     (UE4M3) crossed, on ordinary elements;
  3. output overflow (every product at the largest magnitude, and C at the largest normal
     pushed over) and underflow (results in and below the subnormal range);
  4. near-total cancellation, zero sums of both signs;
  5. knob boundaries: a pool of structured candidates (exponent spreads just inside and
     just outside the kept fraction bits, ties at every rounding point, carries into a new
     binade, cancellations, dense sums, overflow, subnormal and NaN sums) from which the
     first cases that a single-knob neighbour of the config computes differently are kept,
     a few per neighbour (golden/README.md, adequacy).
"""
from __future__ import annotations

import numpy as np

from ..formats import E8M0, Format
from ..numerics import dot_batch, gemm_auto
from ..quantize import quantize
from . import rng
from .neighbours import neighbours
from .spec import DOT_OPS, Spec

POOL = {1: 1536, 2: 6144}  # knob-boundary candidates
PER_NEIGHBOUR = {1: 3, 2: 24}  # distinguishing cases kept per neighbour


# ---------------------------------------------------------------------------------------
# Cases as arrays
# ---------------------------------------------------------------------------------------
class DotCases:
    """P dot cases: a, b (P x K codes), sa, sb (P x n_blocks scale codes, or None), c (P)."""

    def __init__(self, a, b, sa, sb, c):
        self.a, self.b, self.sa, self.sb, self.c = a, b, sa, sb, c

    def __len__(self):
        return len(self.c)

    def take(self, idx):
        t = lambda x: None if x is None else x[idx]  # noqa: E731
        return DotCases(self.a[idx], self.b[idx], t(self.sa), t(self.sb), self.c[idx])

    @staticmethod
    def concat(parts):
        parts = [p for p in parts if len(p)]
        cat = lambda name: (None if getattr(parts[0], name) is None  # noqa: E731
                            else np.concatenate([getattr(p, name) for p in parts]))
        return DotCases(cat("a"), cat("b"), cat("sa"), cat("sb"), cat("c"))


def operands(spec: Spec):
    """(a_fmt, b_fmt, scale_fmt or None) of a dot spec, for `neighbours`."""
    return spec.a_fmt, spec.b_fmt, spec.scale_fmt if spec.block else None


def run_dot(spec: Spec, cases: DotCases, config=None):
    """(result codes, flags) of the cases under `config` (default the spec's)."""
    return dot_batch(cases.a, cases.b, spec.a_fmt, spec.b_fmt, cases.sa, cases.sb, cases.c,
                     config or spec.config, scale_fmt=spec.scale_fmt or E8M0,
                     c_fmt=spec.c_fmt)


# ---------------------------------------------------------------------------------------
# Format helpers
# ---------------------------------------------------------------------------------------
def _exp_range(fmt: Format):
    """(smallest, largest) exponent of a normal value (INT: its bit positions)."""
    if fmt.kind == "int":
        return -fmt.man_bits, 0
    return fmt.emin, fmt.emax


def _ordinary_range(fmt: Format):
    lo, hi = _exp_range(fmt)
    return max(lo, -6), min(hi, 6)


def _encode(fmt: Format, values) -> np.ndarray:
    """Codes of float64 values (exact where representable, else RNE and saturating)."""
    v = np.asarray(values, dtype=np.float64)
    ovf = "saturate"
    return fmt.encode(v, "rne", overflow=ovf).codes.astype(np.int64)


def _specials(fmt: Format, level: int) -> list:
    """Boundary codes of a format: zeros of both signs, subnormal extremes, smallest normal,
    one, largest normal (both signs), NaN and Inf codes."""
    out = []
    add = lambda c: out.append(int(c)) if c not in out else None  # noqa: E731
    neg = lambda c: fmt.pack(1, c)  # noqa: E731
    add(0)
    if fmt.has_negative_zero:
        add(neg(0))
    if fmt.kind == "float" and fmt.subnormals:
        add(1)
        add(neg(1))
        if level > 1:
            add((1 << fmt.man_bits) - 1)
        add(1 << fmt.man_bits)  # smallest normal
    add(int(_encode(fmt, [1.0])[0]))
    add(int(_encode(fmt, [-1.0])[0]))
    add(fmt.max_code)
    add(neg(fmt.max_code))
    if fmt.kind == "int" and level > 1:
        add(1 << (fmt.bits - 1))  # the most negative code
    if fmt.has_inf:
        add(fmt.inf_magnitude)
        add(neg(fmt.inf_magnitude))
    if fmt.has_nan:
        add(fmt.nan_code(0))
        if level > 1 and fmt.specials == "ieee":
            add(fmt.inf_magnitude | 1)  # a signalling-style NaN payload
    return out


def _scale_specials(sfmt: Format) -> list:
    if sfmt == E8M0:
        return [0x00, 0x01, 0x7F, 0xFE, 0xFF]
    return [0x00, 0x01, int(_encode(sfmt, [1.0])[0]), sfmt.max_code, sfmt.nan_code(0)]


def _scale_code(sfmt: Format, e):
    """Scale codes of 2^e."""
    e = np.asarray(e)
    if sfmt == E8M0:
        return np.clip(127 + e, 0, 254).astype(np.int64)
    return _encode(sfmt, np.ldexp(1.0, e))


# ---------------------------------------------------------------------------------------
# Dot: the fixed boundary tables (steps 1-4 of the module docstring)
# ---------------------------------------------------------------------------------------
class _Builder:
    """Collects cases given as codes; lanes not set are +0 codes, scales 2^0."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.k = spec.k
        self.nb = spec.k // spec.block if spec.block else 0
        self.rows = []
        self.one_a = int(_encode(spec.a_fmt, [1.0])[0])
        self.one_b = int(_encode(spec.b_fmt, [1.0])[0])
        self.s1 = int(_scale_code(spec.scale_fmt, 0)) if spec.block else None

    def add(self, a=None, b=None, sa=None, sb=None, c=0):
        a = dict(a or {})
        b = dict(b or {})
        row_a = [a.get(i, 0) for i in range(self.k)]
        row_b = [b.get(i, 0) for i in range(self.k)]
        sa = list(sa) if sa is not None else [self.s1] * self.nb
        sb = list(sb) if sb is not None else [self.s1] * self.nb
        self.rows.append((row_a, row_b, sa, sb, int(c)))

    def cases(self) -> DotCases:
        if not self.rows:
            return _empty(self.spec)
        a = np.array([r[0] for r in self.rows], np.int64)
        b = np.array([r[1] for r in self.rows], np.int64)
        c = np.array([r[4] for r in self.rows], np.int64)
        if not self.nb:
            return DotCases(a, b, None, None, c)
        return DotCases(a, b, np.array([r[2] for r in self.rows], np.int64),
                        np.array([r[3] for r in self.rows], np.int64), c)


def _empty(spec: Spec) -> DotCases:
    nb = spec.k // spec.block if spec.block else 0
    z = lambda *s: np.zeros(s, np.int64)  # noqa: E731
    return DotCases(z(0, spec.k), z(0, spec.k), z(0, nb) if nb else None,
                    z(0, nb) if nb else None, z(0))


def _fixed_table(spec: Spec) -> DotCases:
    bld = _Builder(spec)
    af, bf, cf, k, lvl = spec.a_fmt, spec.b_fmt, spec.c_fmt, spec.k, spec.level
    sa_sp, sb_sp = _specials(af, lvl), _specials(bf, lvl)
    c_sp = _specials(cf, lvl)
    lanes = [0] if lvl == 1 else [0, k // 2 + 1, k - 1]
    # 1. Specials crossed (one lane; the others +0), then C's specials.
    for lane in lanes:
        for x in sa_sp:
            for y in sb_sp:
                bld.add({lane: x}, {lane: y})
    for cc in c_sp:
        bld.add({0: bld.one_a}, {0: bld.one_b}, c=cc)
        bld.add(c=cc)  # every product zero: C passes through the rounding alone
    # 2. Scale codes crossed, on ones in every lane.
    if spec.block:
        ones_a = {i: bld.one_a for i in range(k)}
        ones_b = {i: bld.one_b for i in range(k)}
        for x in _scale_specials(spec.scale_fmt):
            for y in _scale_specials(spec.scale_fmt):
                bld.add(ones_a, ones_b, [x] * bld.nb, [y] * bld.nb)
    # 3. Overflow: every product at the largest magnitude (scales at their largest finite
    #    code), both signs; C at the register's largest normal pushed over by one product.
    top_s = [int(_scale_code(spec.scale_fmt, 127 if spec.scale_fmt == E8M0 else 8))] * \
        bld.nb if spec.block else None
    for sgn in (0, 1):
        big_a = {i: af.pack(sgn, af.max_code) for i in range(k)}
        big_b = {i: bf.max_code for i in range(k)}
        bld.add(big_a, big_b, top_s, top_s)
        bld.add({0: af.pack(sgn, bld.one_a)}, {0: bld.one_b}, c=cf.pack(sgn, cf.max_code))
        bld.add({0: af.pack(sgn, af.max_code)}, {0: bf.max_code}, c=cf.pack(sgn, cf.max_code))
    # 4. Underflow: the smallest products (scales at their smallest code) alone, and the
    #    smallest product on a C of the smallest normal of the opposite sign; near-total
    #    cancellation (x - x + tiny, and C = -(x * 1)); zero sums of both signs.
    low_s = [int(_scale_code(spec.scale_fmt, -127 if spec.scale_fmt == E8M0 else -9))] * \
        bld.nb if spec.block else None
    min_norm_c = 1 << cf.man_bits
    one_c = int(_encode(cf, [1.0])[0])
    for sgn in (0, 1):
        bld.add({0: af.pack(sgn, 1)}, {0: 1}, low_s, low_s)
        bld.add({0: af.pack(sgn, 1)}, {0: 1}, c=cf.pack(1 - sgn, min_norm_c))
        x = af.max_code
        bld.add({0: af.pack(sgn, x), 1: af.pack(1 - sgn, x), 2: af.pack(sgn, 1)},
                {0: bld.one_b, 1: bld.one_b, 2: bld.one_b})
        bld.add({0: af.pack(sgn, bld.one_a), 1: af.pack(sgn, 1)},
                {0: bld.one_b, 1: bld.one_b}, c=cf.pack(1 - sgn, one_c))
        # Zero sums: every product a zero of this sign, with C = +0 and -0.
        nz = af.pack(sgn, 0)
        for cz in (0, cf.pack(1, 0)):
            bld.add({i: nz for i in range(k)}, {i: bld.one_b for i in range(k)}, c=cz)
    return bld.cases()


# ---------------------------------------------------------------------------------------
# Dot: knob-boundary candidates (step 5) and random cases
# ---------------------------------------------------------------------------------------
FAMILIES = ("spread", "tie", "sticky", "cancel", "dense", "overflow", "subnormal", "nan")


def _candidates(spec: Spec, count: int, key: int) -> DotCases:
    """`count` structured candidates; candidate j's family is FAMILIES[j % 8] and its bits
    depend only on (key, j)."""
    af, bf, cf, cfg, k = spec.a_fmt, spec.b_fmt, spec.c_fmt, spec.config, spec.k
    nb = k // spec.block if spec.block else 0
    w = rng.bits(key, np.arange(count), 8 * k + 32).tolist()
    u = lambda j, lo, hi, col: lo + w[j][col] % (hi - lo + 1)  # rng.uniform_int, scalar
    alo, ahi = _ordinary_range(af)
    blo, bhi = _ordinary_range(bf)
    am, bm = min(af.man_bits, 6), min(bf.man_bits, 6)
    fq = cfg.frac_bits if cfg.frac_bits is not None else cf.man_bits + 4
    points = sorted({cfg.output_format.man_bits, cfg.step_fmt.man_bits, cf.man_bits})
    a_val = np.zeros((count, k))
    b_val = np.zeros((count, k))
    s_exp = np.zeros((count, 2, max(nb, 1)), np.int64)
    c_val = np.zeros(count)
    c_override = np.full(count, -1, np.int64)
    a_override = np.full((count, k), -1, np.int64)
    clo, chi = _exp_range(cf)
    alo_full = alo if af.kind == "int" else af.emin - af.man_bits
    blo_full = blo if bf.kind == "int" else bf.emin - bf.man_bits
    bhi_full = _exp_range(bf)[1]
    ahi, bhi = _exp_range(af)[1], bhi_full
    for j in range(count):
        fam = FAMILIES[j % len(FAMILIES)]
        col = iter(range(8 * k + 32))
        nxt = lambda lo, hi: u(j, lo, max(lo, hi), next(col))  # noqa: E731
        if nb:
            for side in (0, 1):
                for blk in range(nb):
                    s_exp[j, side, blk] = nxt(-3, 3) if fam != "dense" else nxt(-8, 8)

        def lane_exp(lane):
            return int(s_exp[j, 0, lane // spec.block] + s_exp[j, 1, lane // spec.block]) \
                if nb else 0

        def put(lane, ea, eb, fa=0, fb=0, sign=0):
            a_val[j, lane] = (-1) ** sign * (1 + fa / 2 ** am) * 2.0 ** ea
            b_val[j, lane] = (1 + fb / 2 ** bm) * 2.0 ** eb
            return ea + eb + lane_exp(lane)

        def put_exp(lane, e, sign=0):
            """A product of exactly 2^e in `lane` (False when the formats cannot)."""
            e -= lane_exp(lane)
            for _ in range(4):
                ea = nxt(max(alo_full, e - bhi_full), min(ahi, e - blo_full)) \
                    if max(alo_full, e - bhi_full) <= min(ahi, e - blo_full) else None
                if ea is None:
                    return False
                if blo_full <= e - ea <= bhi:
                    a_val[j, lane] = (-1) ** sign * 2.0 ** ea
                    b_val[j, lane] = 2.0 ** (e - ea)
                    return True
            return False

        def c_at(ec, frac=None, sign=0):
            ec = min(max(ec, clo - cf.man_bits), chi)
            f = nxt(0, (1 << 20) - 1) / 2 ** 20 if frac is None else frac
            c_val[j] = (-1) ** sign * (1 + f) * 2.0 ** ec

        lanes = [nxt(0, k - 1) for _ in range(4)]
        if fam == "spread":
            ep = max(put(ln, nxt(alo, ahi), nxt(blo, bhi), nxt(0, 2 ** am - 1),
                         nxt(0, 2 ** bm - 1), nxt(0, 1)) for ln in lanes[:nxt(1, 3)])
            d = nxt(-(fq + 4), fq + 4) if nxt(0, 1) else nxt(fq - 3, fq + 3)
            c_at(ep + d, sign=nxt(0, 1))
        elif fam == "tie":
            om = points[nxt(0, len(points) - 1)]
            sg = nxt(0, 1)
            ep = put(lanes[0], nxt(alo, ahi), nxt(blo, bhi), sign=sg)
            variant = nxt(0, 3)
            if variant == 0:  # C + half an ulp of C
                c_at(ep + om + 1, nxt(0, 7) / 8, sg)
            elif variant == 1:  # ... and a tiny product just above or below the tie
                c_at(ep + om + 1, nxt(0, 7) / 8, sg)
                if lanes[1] != lanes[0]:
                    put(lanes[1], alo, blo, sign=nxt(0, 1))
            elif variant == 2:  # two products, one half an ulp of the other
                if lanes[1] != lanes[0]:
                    e2 = ep - om - 1 - lane_exp(lanes[1])
                    ea = max(min(e2 - blo, ahi), alo)
                    put(lanes[1], ea, e2 - ea, sign=sg)
            else:  # a carry into the next binade lands on a tie: C = 2^ec (2 - 2^-om)
                c_at(ep + om - 1, 1 - 2.0 ** -om, sg)
        elif fam == "sticky":
            # A tie of the result's rounding broken (or not) by a term just inside or just
            # outside the F kept fraction bits: 2^E, 2^(E - om - 1) and 2^(E - F - d).
            om = points[nxt(0, len(points) - 1)]
            sg = nxt(0, 1)
            lo_p = alo_full + blo_full + lane_exp(lanes[0])
            E = nxt(lo_p + fq - 1, max(ahi + bhi + lane_exp(lanes[0]), lo_p + fq + 2))
            if not put_exp(lanes[0], E, sg):
                c_at(E, 0.0, sg)
            if lanes[1] != lanes[0]:
                put_exp(lanes[1], E - om - 1, sg)
            if lanes[2] not in lanes[:2]:
                put_exp(lanes[2], E - fq - nxt(-1, 2), nxt(0, 1))
            if nxt(0, 1):
                c_at(E, nxt(0, 3) / 4, sg)
        elif fam == "cancel":
            sg = nxt(0, 1)
            ep = put(lanes[0], nxt(alo, ahi), nxt(blo, bhi), nxt(0, 2 ** am - 1),
                     nxt(0, 2 ** bm - 1), sg)
            c_val[j] = -float(a_val[j, lanes[0]] * b_val[j, lanes[0]]) * 2.0 ** lane_exp(
                lanes[0])
            for ln in lanes[1:nxt(1, 3)]:
                if ln != lanes[0]:
                    put(ln, nxt(alo, ahi), nxt(blo, bhi), nxt(0, 2 ** am - 1), 0, nxt(0, 1))
        elif fam == "dense":
            ep = max(put(ln, nxt(alo, ahi), nxt(blo, bhi), nxt(0, 2 ** am - 1),
                         nxt(0, 2 ** bm - 1), nxt(0, 1)) for ln in range(k))
            if nxt(0, 3):
                c_at(ep + nxt(-8, 8), sign=nxt(0, 1))
        elif fam == "overflow":
            sg = nxt(0, 1)
            c_at(chi, 1 - 2.0 ** -nxt(1, 8), sg)
            put(lanes[0], nxt(alo, ahi), nxt(blo, bhi), sign=sg if nxt(0, 3) else 1 - sg)
            if nxt(0, 1):  # the products alone overflow the output format
                c_at(chi - nxt(0, 2), None, sg)
        elif fam == "subnormal":
            sg = nxt(0, 1)
            c_at(clo - nxt(1, cf.man_bits), None, sg)
            what = nxt(0, 2)
            if what == 1:
                put(lanes[0], alo, blo, sign=nxt(0, 1))
                a_override[j, lanes[0]] = af.pack(nxt(0, 1), 1)  # the smallest code
            elif what == 2:  # products in (or at the edge of) the subnormal range
                for ln in lanes[:nxt(1, 2)]:
                    put_exp(ln, clo - nxt(-1, cf.man_bits + 2), nxt(0, 1))
                if nxt(0, 1):
                    c_val[j] = 0.0
        else:  # nan
            put(lanes[0], nxt(alo, ahi), nxt(blo, bhi), sign=nxt(0, 1))
            what = nxt(0, 3)
            if what == 0:
                c_override[j] = cf.nan_code(0)
            elif what == 1 and af.has_inf:
                a_override[j, lanes[0]] = af.inf_magnitude
                a_override[j, lanes[1]] = af.pack(1, af.inf_magnitude)
            elif what == 2 and af.has_nan:
                a_override[j, lanes[1]] = af.nan_code(0)
            else:
                c_override[j] = cf.pack(nxt(0, 1), cf.inf_magnitude)
                if af.has_inf:
                    a_override[j, lanes[1]] = af.pack(nxt(0, 1), af.inf_magnitude)
    a = _encode(af, a_val)
    a = np.where(a_override >= 0, a_override, a)
    b = _encode(bf, b_val)
    c = np.where(c_override >= 0, c_override, _encode(cf, c_val))
    if not nb:
        return DotCases(a, b, None, None, c)
    sc = _scale_code(spec.scale_fmt, s_exp)
    return DotCases(a, b, sc[:, 0, :nb], sc[:, 1, :nb], c)


def _knob_table(spec: Spec) -> DotCases:
    """The first few candidates that each neighbour computes differently (step 5)."""
    pool = _candidates(spec, POOL[spec.level], rng.stream_key(spec.seed, "knobs"))
    base, _ = run_dot(spec, pool)
    keep, per = [], PER_NEIGHBOUR[spec.level]
    for nb in neighbours(spec.config, spec.k, operands(spec)):
        if nb.status != "ok":
            continue
        d, _ = run_dot(spec, pool, nb.config)
        hits = np.flatnonzero(d != base)
        chosen = [int(i) for i in hits if int(i) in keep]
        for i in hits:
            if len(chosen) >= per:
                break
            if int(i) not in chosen:
                chosen.append(int(i))
                keep.append(int(i))
    return pool.take(np.array(sorted(set(keep)), np.int64))


def _random_dot(spec: Spec, index: np.ndarray) -> DotCases:
    """Random cases: finite codes (any exponent of narrow formats; wide formats near one),
    scales near 2^0 (a few anywhere), C near the products' magnitude or any code."""
    af, bf, cf, k = spec.a_fmt, spec.b_fmt, spec.c_fmt, spec.k
    key = rng.stream_key(spec.seed, "random")
    nb = k // spec.block if spec.block else 0
    w = rng.bits(key, index, 2 * k + 8 + 2 * nb)

    def elems(fmt, words):
        if fmt.kind == "int" or fmt.exp_bits <= 5:
            mag = rng.uniform_int(words, 0, fmt.max_code)
            sign = (words >> np.uint64(40)) & np.uint64(1)
            if fmt.kind == "int":
                v = np.where(sign == 1, -mag, mag)
                return (v % fmt.num_codes).astype(np.int64)
            return np.where((sign == 1) & fmt.has_negative_zero | ((sign == 1) & (mag > 0)),
                            mag | (1 << (fmt.bits - 1)), mag).astype(np.int64)
        e = rng.uniform_int(words >> np.uint64(8), -12, 12)
        frac = (words >> np.uint64(20)).astype(np.int64) & ((1 << fmt.man_bits) - 1)
        sign = ((words >> np.uint64(60)) & np.uint64(1)).astype(np.int64)
        return (sign << (fmt.bits - 1)) | ((e + fmt.bias) << fmt.man_bits) | frac

    a = elems(af, w[:, :k])
    b = elems(bf, w[:, k:2 * k])
    tail = w[:, 2 * k:]
    # C: the register's codes with an exponent near the products' (2^-12 .. 2^12 around
    # one, shifted by the scales), or (1 case in 16) any finite code.
    cexp = rng.uniform_int(tail[:, 0], -30, 30)
    sa = sb = None
    if nb:
        def scales(col):
            near = _scale_code(spec.scale_fmt, rng.uniform_int(tail[:, col:col + nb], -6, 6))
            anyc = rng.uniform_int(tail[:, col:col + nb] >> np.uint64(24), 0,
                                   spec.scale_fmt.num_codes - 1)
            wide = (tail[:, 5:6] >> np.uint64(50)) % np.uint64(16) == 0
            return np.where(wide, anyc, near)
        sa, sb = scales(8), scales(8 + nb)
    cexp = np.clip(cexp, cf.emin, cf.emax)
    cfrac = (tail[:, 3] >> np.uint64(5)).astype(np.int64) & ((1 << cf.man_bits) - 1)
    csign = ((tail[:, 3] >> np.uint64(62)) & np.uint64(1)).astype(np.int64)
    c = (csign << (cf.bits - 1)) | ((cexp + cf.bias) << cf.man_bits) | cfrac
    anyc = rng.uniform_int(tail[:, 4], 0, cf.num_codes - 1)
    finite = cf.unpack(anyc.astype(np.uint64)).cls < 3
    pick = (tail[:, 5] % np.uint64(16) == 0) & finite
    c = np.where(pick, anyc, c)
    zero = tail[:, 6] % np.uint64(8) == 0
    c = np.where(zero, 0, c)
    return DotCases(a.astype(np.int64), b.astype(np.int64), sa, sb, c.astype(np.int64))


def dot_table(spec: Spec) -> DotCases:
    """The boundary table of a dot spec (fixed tables, then the knob boundaries)."""
    return DotCases.concat([_fixed_table(spec), _knob_table(spec)])


# ---------------------------------------------------------------------------------------
# encode, decode, quantize
# ---------------------------------------------------------------------------------------
def _f32(values) -> np.ndarray:
    """FP32 bit patterns of float64 values (beyond FP32's range: Inf, on purpose)."""
    with np.errstate(over="ignore"):
        v = np.asarray(values, np.float64).astype(np.float32)
    return v.view(np.uint32).astype(np.int64)


def _encode_table(spec: Spec) -> np.ndarray:
    """FP32 inputs: every code's value, the midpoints between neighbouring codes (ties) and
    one FP32 ulp either side, beyond the largest normal, below the smallest subnormal,
    zeros, NaN and Inf."""
    fmt = spec.a_fmt
    vals = np.unique(np.abs(fmt.decode(np.arange(fmt.num_codes, dtype=np.uint32))))
    vals = vals[np.isfinite(vals)]
    if fmt.bits > 8:
        step = max(1, len(vals) // (128 if spec.level == 1 else 2048))
        vals = vals[::step]
    mids = (vals[:-1] + vals[1:]) / 2
    top = fmt.max_normal
    extra = [top * 1.5, top * 2, top * 1.125, fmt.min_subnormal / 2, fmt.min_subnormal / 4,
             fmt.min_subnormal * 0.75, 0.0, np.inf, np.nan]
    x = _f32(np.concatenate([vals, mids, extra]))
    near = np.concatenate([_f32(mids) + 1, _f32(mids) - 1])
    x = np.concatenate([x, near[near > 0]])
    return np.concatenate([x, x | (1 << 31)])


def _random_encode(spec: Spec, index) -> np.ndarray:
    fmt = spec.a_fmt
    w = rng.bits(rng.stream_key(spec.seed, "random"), index, 1)[:, 0]
    lo, hi = _exp_range(fmt)
    e = rng.uniform_int(w, lo - fmt.man_bits - 3, hi + 3)
    e = np.clip(e, -149, 127)
    frac = (w >> np.uint64(8)).astype(np.int64) & ((1 << 23) - 1)
    sign = ((w >> np.uint64(63)) & np.uint64(1)).astype(np.int64)
    field = np.maximum(e + 127, 0)
    return (sign << 31) | (field << 23) | frac


def _quant_table(spec: Spec) -> np.ndarray:
    """Blocks of FP32 inputs: amax at powers of two and at the format's largest normal and
    its rounding boundary, ties of the element rounding, zero blocks, NaN and Inf in a
    block, FP32 subnormals, shared exponents beyond E8M0's range (clamped)."""
    fmt, bs = spec.a_fmt, spec.block
    vals = np.abs(fmt.decode(np.arange(fmt.num_codes, dtype=np.uint32)))
    vals = np.unique(vals[np.isfinite(vals)])
    mids = (vals[:-1] + vals[1:]) / 2
    rows = []
    for shift in (0, -130, 120, 127, -149):
        for amax in (fmt.max_normal, fmt.max_normal * 1.0625, fmt.max_normal * 2 * 0.999,
                     1.0, 2.0 ** fmt.emax):
            row = np.resize(np.concatenate([[amax], mids, -vals]), bs) * 2.0 ** shift
            rows.append(row)
    rows.append(np.zeros(bs))
    rows.append(-np.zeros(bs))
    for special in (np.nan, np.inf, -np.inf):
        r = np.resize(vals, bs).copy()
        r[bs // 2] = special
        rows.append(r)
    r = np.resize(mids, bs)
    rows.append(r * 2.0 ** -140)
    return np.stack([_f32(r) for r in rows])


def _random_quant(spec: Spec, index) -> np.ndarray:
    bs = spec.block
    w = rng.bits(rng.stream_key(spec.seed, "random"), index, bs + 1)
    shift = rng.uniform_int(w[:, -1:], -20, 20)
    e = rng.uniform_int(w[:, :bs], -8, 0) + shift
    frac = (w[:, :bs] >> np.uint64(8)).astype(np.int64) & ((1 << 23) - 1)
    sign = ((w[:, :bs] >> np.uint64(63)) & np.uint64(1)).astype(np.int64)
    return (sign << 31) | (np.clip(e + 127, 1, 254) << 23) | frac


# ---------------------------------------------------------------------------------------
# The whole set and its expected results
# ---------------------------------------------------------------------------------------
def default_n(spec: Spec, n_table: int) -> int:
    """Boundary cases interleaved with as many random ones (decode: every code once)."""
    if spec.op == "decode":
        return spec.a_fmt.num_codes if spec.a_fmt.bits <= 8 else 2 * n_table
    if spec.op == "gemm":  # enough tiles that their diagonals cover the dot stream
        m, n = spec.tile
        return -(-2 * n_table // min(m, n)) * m * n
    return 2 * n_table


def case_range(spec: Spec, total: int) -> np.ndarray:
    """The case indices of the spec's shard (GEMM: whole tiles)."""
    i, n = spec.shard
    unit = spec.tile[0] * spec.tile[1] if spec.op == "gemm" else 1
    units = total // unit
    return np.arange(i * units // n * unit, (i + 1) * units // n * unit, dtype=np.int64)


def _interleave(index: np.ndarray, n_table: int):
    """(mask of boundary cases, their table rows) for case indices."""
    is_table = (index % 2 == 0) & (index // 2 < n_table)
    return is_table, index // 2


def boundary_table(spec: Spec):
    """The boundary table of the spec's op (DotCases for dot ops, else int64 arrays)."""
    if spec.op in DOT_OPS:
        return dot_table(spec)
    if spec.op == "encode":
        return _encode_table(spec)
    if spec.op == "quantize":
        return _quant_table(spec)
    fmt = spec.a_fmt
    table = np.arange(fmt.num_codes, dtype=np.int64)
    if fmt.bits > 8:  # wide formats: every 64th code (level 2: 4th) and the specials
        table = np.union1d(table[::4 if spec.level == 2 else 64], _specials(fmt, 2))
    return table


def plan(spec: Spec):
    """(table, total, index): the boundary table, the size of the whole set and the case
    indices of the spec's shard."""
    table = boundary_table(spec)
    total = spec.n or default_n(spec, len(table))
    if spec.op == "gemm" and total % (spec.tile[0] * spec.tile[1]):
        raise ValueError(f"n={total}: a gemm set holds whole tiles; allowed: a multiple of "
                         f"{spec.tile[0]} * {spec.tile[1]}")
    return table, total, case_range(spec, total)


def inputs_for(spec: Spec, table, index: np.ndarray):
    """The inputs of the cases `index` (DotCases for dot ops, int64 arrays otherwise)."""
    if spec.op == "gemm":
        return _gemm_inputs(spec, table, index)
    is_t, row = _interleave(index, len(table))
    row = np.minimum(row, max(len(table) - 1, 0))
    if spec.op == "decode":
        if spec.a_fmt.bits <= 8 and spec.n is None:
            return index.copy()  # every code once, in order
        w = rng.bits(rng.stream_key(spec.seed, "random"), index, 1)[:, 0]
        rnd = rng.uniform_int(w, 0, spec.a_fmt.num_codes - 1)
        return np.where(is_t, table[row], rnd)
    if spec.op in DOT_OPS:
        rnd = _random_dot(spec, index)
        if not len(table):
            return rnd
        tab = table.take(row)
        pick = lambda x, y: None if x is None else np.where(  # noqa: E731
            is_t.reshape((-1,) + (1,) * (x.ndim - 1)), x, y)
        return DotCases(pick(tab.a, rnd.a), pick(tab.b, rnd.b), pick(tab.sa, rnd.sa),
                        pick(tab.sb, rnd.sb), pick(tab.c, rnd.c))
    rnd = (_random_encode if spec.op == "encode" else _random_quant)(spec, index)
    tab = table[row]
    return np.where(is_t if tab.ndim == 1 else is_t[:, None], tab, rnd)


def _gemm_inputs(spec: Spec, table: DotCases, index) -> DotCases:
    """GEMM tiles as dot cases in tile-row-major order. Tile t takes the A rows of cases
    t*D .. t*D+M-1 (D = min(M, N)) of the interleaved dot stream and the B columns of
    cases t*D .. t*D+N-1 (so
    the diagonal of a square tile holds those cases exactly, C included); the other C
    entries are random. Cases here are the tile's outputs."""
    m, n = spec.tile
    per = m * n
    tiles = np.unique(index // per)
    L = max(m, n)
    src_idx = (tiles[:, None] * min(m, n) + np.arange(L)[None]).reshape(-1)
    is_t, row = _interleave(src_idx, len(table))
    rnd = _random_dot(spec, src_idx)
    tab = table.take(np.minimum(row, max(len(table) - 1, 0)))
    pick = lambda x, y: None if x is None else np.where(  # noqa: E731
        is_t.reshape((-1,) + (1,) * (x.ndim - 1)), x, y)
    src = DotCases(pick(tab.a, rnd.a), pick(tab.b, rnd.b), pick(tab.sa, rnd.sa),
                   pick(tab.sb, rnd.sb), pick(tab.c, rnd.c))
    t_of = index // per
    ti = np.searchsorted(tiles, t_of)
    i = (index % per) // n
    j = index % n
    ra, rb = ti * L + i, ti * L + j
    crand = _random_dot(spec, index + (1 << 40)).c
    c = np.where(i == j, src.c[ra], crand)
    t = lambda x, r: None if x is None else x[r]  # noqa: E731
    return DotCases(src.a[ra], src.b[rb], t(src.sa, ra), t(src.sb, rb), c)


def expected(spec: Spec, inputs):
    """The model's results for the inputs: a dict of output arrays (see files.FIELDS)."""
    op = spec.op
    if op in ("dot1", "dot"):
        d, fl = run_dot(spec, inputs)
        return {"d": d.astype(np.int64), "flags": fl.astype(np.int64)}
    if op == "gemm":
        return _gemm_expected(spec, inputs)
    if op == "encode":
        x = inputs.astype(np.uint32).view(np.float32).astype(np.float64)
        q = spec.quant
        ovf = None if q["overflow"] == "default" else q["overflow"]
        r = spec.a_fmt.encode(x, q["rounding"], overflow=ovf)
        return {"code": r.codes.astype(np.int64), "flags": r.flags.astype(np.int64)}
    if op == "decode":
        v = spec.a_fmt.decode(inputs.astype(np.uint32))
        return {"value": _f32(v)}
    x = inputs.astype(np.uint32).view(np.float32)
    q = spec.quant
    t = quantize(x.reshape(len(inputs), spec.block), spec.a_fmt, block_size=spec.block,
                 scale_mode=q["scale_mode"], rounding=q["rounding"],
                 nan_policy=q["nan_policy"], inf_policy=q["inf_policy"],
                 zero_block_scale=int(q["zero_block_scale"]),
                 subnormal_inputs=q["subnormal_inputs"])
    fl = np.bitwise_or.reduce(t.flags.astype(np.int64), axis=1)
    return {"scale": t.scales.reshape(-1).astype(np.int64), "codes": t.codes.astype(np.int64),
            "flags": fl}


def _gemm_expected(spec: Spec, cases: DotCases):
    """Expected outputs of GEMM tiles, computed tile by tile with gemm_auto."""
    from ..mxtensor import MXTensor
    m, n = spec.tile
    per = m * n
    p = len(cases)
    d = np.zeros(p, np.int64)
    fl = np.zeros(p, np.int64)
    for s in range(0, p, per):
        A = cases.a[s:s + per:n][:m]
        B = cases.b[s:s + n].T
        C = cases.c[s:s + per].reshape(m, n)
        if spec.block:
            def mx(codes, scales, axis):
                shape = codes.shape
                return MXTensor(codes=codes.astype(np.uint8), scales=scales.astype(np.uint8),
                                elem=spec.a_fmt if axis == 1 else spec.b_fmt,
                                scale_fmt=spec.scale_fmt, block_size=spec.block, axis=axis,
                                shape=shape)
            Ao = mx(A, cases.sa[s:s + per:n][:m], 1)
            Bo = mx(B, cases.sb[s:s + n].T, 0)
        else:
            Ao, Bo = (A, spec.a_fmt), (B, spec.b_fmt)
        dd, ff = gemm_auto(Ao, Bo, C, spec.config)
        d[s:s + per], fl[s:s + per] = dd.reshape(-1), ff.reshape(-1)
    return {"d": d, "flags": fl}


__all__ = ["DotCases", "plan", "inputs_for", "expected", "run_dot", "dot_table", "FAMILIES"]
