"""Executable specification of the word-to-sample mapping in csrc/fastkaiming.h.

Written independently of the C code, in NumPy and the standard library, from the mapping
in fastkaiming.h, the operation order of csrc/transforms.h and the parameter rules of
src/fastkaiming/_api.py. Every function returns exactly the bits the C core must produce.

Exactness rules used here:
- float32 fma: the product of two float32 is exact in float64; the float64 sum is made
  round-to-odd (TwoSum error nonzero and last bit even -> step one ulp toward the error),
  and a round-to-odd float64 (53 bits) rounds to float32 (24 bits) like the exact sum.
- float64 fma: exact rational arithmetic, float(Fraction) is correctly rounded.
- NumPy float32 +, -, *, /, sqrt and float64 -> float32 / float32 -> float16 casts are
  correctly rounded IEEE operations (ties to even), as in C.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1

# Philox4x32 (SC11): multipliers and Weyl key increments
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
PHILOX_ROUNDS = 10


# ---- generator ----------------------------------------------------------------------------


def philox4x32_10(counters, key) -> np.ndarray:
    """Philox4x32-10 of each row of `counters` (uint32, shape (n, 4)) under key (k0, k1)."""
    c = np.asarray(counters, dtype=np.uint64).reshape(-1, 4)
    c0, c1, c2, c3 = (c[:, i].copy() for i in range(4))
    k0, k1 = int(key[0]) & M32, int(key[1]) & M32
    lo32 = np.uint64(M32)
    sh = np.uint64(32)
    for r in range(PHILOX_ROUNDS):
        if r > 0:  # key bumped before rounds 2..10
            k0 = (k0 + PHILOX_W0) & M32
            k1 = (k1 + PHILOX_W1) & M32
        p0 = np.uint64(PHILOX_M0) * c0  # < 2^64: exact
        p1 = np.uint64(PHILOX_M1) * c2
        n0 = (p1 >> sh) ^ c1 ^ np.uint64(k0)
        n2 = (p0 >> sh) ^ c3 ^ np.uint64(k1)
        c0, c1, c2, c3 = n0, p1 & lo32, n2, p0 & lo32
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def blocks(seed: int, stream: int, first_block: int, count: int) -> np.ndarray:
    """Words of blocks first_block .. first_block + count - 1, shape (count, 4)."""
    assert 0 <= seed <= M64 and 0 <= stream <= M64
    assert 0 <= first_block and first_block + count <= 1 << 64
    b = np.uint64(first_block) + np.arange(count, dtype=np.uint64)
    ctr = np.empty((count, 4), dtype=np.uint64)
    ctr[:, 0] = b & np.uint64(M32)
    ctr[:, 1] = b >> np.uint64(32)
    ctr[:, 2] = stream & M32
    ctr[:, 3] = stream >> 32
    return philox4x32_10(ctr, (seed & M32, seed >> 32))


def _span(first: int, n: int, per_block: int) -> tuple[int, int, int]:
    """(first block, block count, phase) covering samples first .. first + n - 1."""
    b0, phase = divmod(first, per_block)
    b1 = (first + n + per_block - 1) // per_block
    return b0, b1 - b0, phase


def words(seed: int, stream: int, first_word: int, n: int) -> np.ndarray:
    """Raw uint32 stream: word j is lane (first+j) % 4 of block (first+j) // 4."""
    b0, nb, phase = _span(first_word, n, 4)
    return blocks(seed, stream, b0, nb).reshape(-1)[phase : phase + n].copy()


# ---- exact float32 arithmetic -------------------------------------------------------------


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).astype(np.float32)


def fma32(a, b, c) -> np.ndarray:
    """Correctly rounded float32 a * b + c, elementwise."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float32) for v in (a, b, c)))
    p = a.astype(np.float64) * b.astype(np.float64)  # exact: 48 significant bits
    q = c.astype(np.float64)
    s = p + q
    # TwoSum (Knuth): s + e == p + q exactly
    bv = s - p
    av = s - bv
    e = (p - av) + (q - bv)
    # round to odd: an inexact sum never lands on a float32 midpoint (those end in 0 bits)
    even = (s.view(np.uint64) & np.uint64(1)) == 0
    fix = (e != 0) & even
    s = np.where(fix, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)
    return s.astype(np.float32)


def _f32c(hexstr: str) -> np.float32:
    """A float32 constant given in C99 hex notation; must be exact."""
    v = float.fromhex(hexstr)
    f = np.float32(v)
    assert float(f) == v, hexstr
    return f


# float32 constants of transforms.h
S1F, S2F, S3F, S4F = (_f32c(h) for h in ("-0x1.555556p-3", "0x1.111112p-7",
                                          "-0x1.a01a02p-13", "0x1.71de3ap-19"))
C1F, C2F, C3F, C4F, C5F = (_f32c(h) for h in ("-0x1p-1", "0x1.555556p-5", "-0x1.6c16c2p-10",
                                               "0x1.a01a02p-16", "-0x1.27e4fcp-22"))
L1F, L2F, L3F, L4F = (_f32c(h) for h in ("0x1.555556p-1", "0x1.99999ap-2", "0x1.24924ap-2",
                                          "0x1.c71c72p-3"))
LN2F = _f32c("0x1.62e430p-1")
PI4F = _f32c("0x1.921fb6p-1")
SQRTHALF_F32_BITS = 0x3F3504F3


def log_f32(u: np.ndarray) -> np.ndarray:
    """In-house log of float32 u in (0, 1]: u = 2^e m, m in [sqrt(1/2), sqrt(2))."""
    i = np.asarray(u, dtype=np.float32).view(np.uint32).astype(np.int64)
    e = ((i + (0x3F800000 - SQRTHALF_F32_BITS)) >> 23) - 127
    m = ((i - (e << 23)) & M32).astype(np.uint32).view(np.float32)
    one = np.float32(1.0)
    s = (m - one) / (m + one)
    z = s * s
    p = fma32(z, fma32(z, fma32(z, L4F, L3F), L2F), L1F)
    logm = fma32(s * z, p, s + s)
    return fma32(_f32(e), LN2F, logm)


def sincos_f32(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In-house (sin, cos) of float32 x in [-pi/4, pi/4]."""
    x2 = x * x
    ps = fma32(x2, fma32(x2, fma32(x2, S4F, S3F), S2F), S1F)
    pc = fma32(x2, fma32(x2, fma32(x2, fma32(x2, C5F, C4F), C3F), C2F), C1F)
    return fma32(x * x2, ps, x), fma32(x2, pc, np.float32(1.0))


def _signed(x, bits):
    """Unsigned integers (array or int) read as two's complement `bits`-bit integers."""
    return x - ((x >> (bits - 1)) << bits)


def _quadrant(q, s, c):
    """(cos, sin) of q pi/2 + x from (sin x, cos x); q = 0..3."""
    swap = (q & 1) != 0
    cc = np.where(swap, s, c)
    ss = np.where(swap, c, s)
    cos_t = np.where((q == 1) | (q == 2), -cc, cc)
    sin_t = np.where(q >= 2, -ss, ss)
    return cos_t, sin_t


def box_muller_f32(wr: np.ndarray, wa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radius words wr, angle words wa (uint32) -> (r cos theta, r sin theta) in float32.

    theta = 2 pi wa / 2^32 = q pi/2 + x, q the nearest quadrant, x in (-pi/4, pi/4) the
    midpoint of one of 2^24 arcs: (2s + 1) 2^-24 pi/4 with s = bits 6..29 of wa, signed.
    """
    wr = np.asarray(wr, dtype=np.int64)
    wa = np.asarray(wa, dtype=np.int64)
    u = fma32(_f32(wr >> 1), _f32c("0x1p-31"), _f32c("0x1p-32"))  # int -> f32: nearest even
    r = np.sqrt(np.float32(-2.0) * log_f32(u))
    q = ((wa + (1 << 29)) & M32) >> 30
    s = _signed((wa << 2) & M32, 32) >> 8
    x = (_f32(2 * s + 1) * _f32c("0x1p-24")) * PI4F  # the first product is exact
    sn, cs = sincos_f32(x)
    ct, st = _quadrant(q, sn, cs)
    return r * ct, r * st


def symmetric_f32(w: np.ndarray) -> np.ndarray:
    """(2s + 1) * 2^-24 with s the top 24 bits of w read as signed: exact."""
    s = _signed(np.asarray(w, dtype=np.int64), 32) >> 8
    return _f32(2 * s + 1) * _f32c("0x1p-24")


def _clamp(x, lo, hi):
    x = np.where(x < lo, lo, x)
    return np.where(x > hi, hi, x)


# ---- exact float64 arithmetic (scalar, slow) ----------------------------------------------


def fma64(a: float, b: float, c: float) -> float:
    """Correctly rounded float64 a * b + c (finite inputs)."""
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact != 0:
        return float(exact)
    if (a == 0 or b == 0) and c == 0:
        return a * b + c  # signed zeros: -0 only when both terms are -0
    return 0.0  # exact cancellation: +0 in round to nearest


def _bits_f64(x: float) -> int:
    return int(np.float64(x).view(np.uint64))


def _from_bits_f64(u: int) -> float:
    return float(np.uint64(u & M64).view(np.float64))


S_F64 = [float.fromhex(h) for h in (
    "-0x1.5555555555555p-3", "0x1.1111111111111p-7", "-0x1.a01a01a01a01ap-13",
    "0x1.71de3a556c734p-19", "-0x1.ae64567f544e4p-26", "0x1.6124613a86d09p-33",
    "-0x1.ae7f3e733b81fp-41", "0x1.952c77030ad4ap-49")]
C_F64 = [float.fromhex(h) for h in (
    "-0x1p-1", "0x1.5555555555555p-5", "-0x1.6c16c16c16c17p-10", "0x1.a01a01a01a01ap-16",
    "-0x1.27e4fb7789f5cp-22", "0x1.1eed8eff8d898p-29", "-0x1.93974a8c07c9dp-37",
    "0x1.ae7f3e733b81fp-45")]
L_F64 = [float.fromhex(h) for h in (
    "0x1.5555555555555p-1", "0x1.999999999999ap-2", "0x1.2492492492492p-2",
    "0x1.c71c71c71c71cp-3", "0x1.745d1745d1746p-3", "0x1.3b13b13b13b14p-3",
    "0x1.1111111111111p-3", "0x1.e1e1e1e1e1e1ep-4", "0x1.af286bca1af28p-4",
    "0x1.8618618618618p-4", "0x1.642c8590b2164p-4")]
LN2_HI = float.fromhex("0x1.62e42feep-1")
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
PI4 = float.fromhex("0x1.921fb54442d18p-1")
SQRTHALF_F64_BITS = 0x3FE6A09E667F3BCD


def _horner64(x: float, coeffs: list[float]) -> float:
    """coeffs[0] + x (coeffs[1] + x (...)), innermost first, one fma per step."""
    p = fma64(x, coeffs[-1], coeffs[-2])
    for k in coeffs[-3::-1]:
        p = fma64(x, p, k)
    return p


def log_f64(u: float) -> float:
    i = _bits_f64(u)
    e = (((i + (0x3FF0000000000000 - SQRTHALF_F64_BITS)) & M64) >> 52) - 1023
    m = _from_bits_f64(i - (e << 52))
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = _horner64(z, L_F64)
    logm = fma64(s * z, p, s + s)
    ed = float(e)
    return fma64(ed, LN2_HI, fma64(ed, LN2_LO, logm))


def sincos_f64(x: float) -> tuple[float, float]:
    x2 = x * x
    ps = _horner64(x2, S_F64)
    pc = _horner64(x2, C_F64)
    return fma64(x * x2, ps, x), fma64(x2, pc, 1.0)


def box_muller_f64(xr: int, xa: int) -> tuple[float, float]:
    u = float((xr >> 11) + 1) * 2.0**-53  # exact
    r = math.sqrt(-2.0 * log_f64(u))
    q = ((xa + (1 << 61)) & M64) >> 62
    s = _signed((xa << 2) & M64, 64) >> 11
    x = float(2 * s + 1) * (PI4 * 2.0**-53)  # one rounding of the exact product
    sn, cs = sincos_f64(x)
    cc, ss = (sn, cs) if q & 1 else (cs, sn)
    return r * (-cc if q in (1, 2) else cc), r * (-ss if q >= 2 else ss)


def _clamp64(x: float, lo: float, hi: float) -> float:
    x = lo if x < lo else x
    return hi if x > hi else x


def symmetric_f64(x: int) -> float:
    return float(2 * (_signed(x, 64) >> 11) + 1) * 2.0**-53  # exact


# ---- samples ------------------------------------------------------------------------------


def _dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    assert dt in (np.float16, np.float32, np.float64), dt
    return dt


def _f32_samples(seed, stream, offset, n, normal):
    """The float32 z (before the affine map) of samples offset .. offset + n - 1."""
    b0, nb, phase = _span(offset, n, 4)
    w = blocks(seed, stream, b0, nb)
    z = np.empty((nb, 4), dtype=np.float32)
    if normal:
        z[:, 0], z[:, 1] = box_muller_f32(w[:, 0], w[:, 1])
        z[:, 2], z[:, 3] = box_muller_f32(w[:, 2], w[:, 3])
    else:
        z[:] = symmetric_f32(w)
    return z.reshape(-1)[phase : phase + n]


def _f64_samples(seed, stream, offset, n, normal):
    b0, nb, phase = _span(offset, n, 2)
    w = blocks(seed, stream, b0, nb)
    out = []
    for row in w.tolist():
        x0 = row[0] | row[1] << 32
        x1 = row[2] | row[3] << 32
        out.extend(box_muller_f64(x0, x1) if normal else (symmetric_f64(x0), symmetric_f64(x1)))
    return out[phase : phase + n]


def _affine(seed, stream, offset, n, loc, scale, lo, hi, dtype, normal) -> np.ndarray:
    dt = _dtype(dtype)
    if dt == np.float64:
        zs = _f64_samples(seed, stream, offset, n, normal)
        x = [fma64(scale, z, loc) for z in zs]
        if not normal:
            x = [_clamp64(v, lo, hi) for v in x]
        return np.array(x, dtype=np.float64)
    z = _f32_samples(seed, stream, offset, n, normal)
    x = fma32(_f32(scale), z, _f32(loc))  # parameters rounded once to float32
    if not normal:
        x = _clamp(x, _f32(lo), _f32(hi))
    if dt == np.float16:
        with np.errstate(over="ignore"):  # |x| >= 65520 becomes inf, as in the C core
            return x.astype(np.float16)
    return x


def normal(seed: int, stream: int, offset: int, n: int, mean: float, std: float,
           dtype) -> np.ndarray:
    """What normal_(arr[n], mean, std, seed=, stream=, offset=) writes for this dtype."""
    return _affine(seed, stream, offset, n, float(mean), float(std), -math.inf, math.inf,
                   dtype, True)


def uniform(seed: int, stream: int, offset: int, n: int, a: float, b: float,
            dtype) -> np.ndarray:
    """What uniform_(arr[n], a, b, ...) writes: loc = a/2 + b/2, scale = b/2 - a/2 in float64."""
    a, b = float(a), float(b)
    return _affine(seed, stream, offset, n, a / 2 + b / 2, b / 2 - a / 2, a, b, dtype, False)


# ---- bfloat16 -------------------------------------------------------------------------------


def bf16_bits(f32: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits: nearest, ties to even, subnormals included (a float32
    subnormal rounds to a bfloat16 subnormal); NaNs become quiet NaNs."""
    x = np.asarray(f32, dtype=np.float32).view(np.uint32).astype(np.int64)
    rounded = (x + 0x7FFF + ((x >> 16) & 1)) >> 16
    quiet_nan = (x | 0x00400000) >> 16
    return np.where((x & 0x7FFFFFFF) > 0x7F800000, quiet_nan, rounded).astype(np.uint16)


# ---- truncated normal -----------------------------------------------------------------------

# float32 polynomials of transforms.h (tools/trunc_constants.py), highest power first
TC_F32 = [_f32c(h) for h in (
    "-0x1.b27b34p-27", "0x1.1a9efp-25", "0x1.638822p-21", "-0x1.48ab52p-18", "-0x1.d7f9b8p-18",
    "0x1.43c992p-12", "-0x1.d06b7ap-10", "-0x1.832b16p-8", "0x1.652c5cp-2", "0x1.0fc8bcp+1")]
TT_F32 = [_f32c(h) for h in (
    "0x1.846f36p-13", "-0x1.dc44fp-12", "-0x1.d35cf2p-14", "0x1.15d388p-9", "-0x1.4c61cep-8",
    "0x1.074fc2p-7", "-0x1.620564p-7", "0x1.b5ba72p-7", "0x1.6aa526p+0", "0x1.00696cp+2")]
TF_F32 = [_f32c(h) for h in (
    "-0x1.8775eap-28", "0x1.59f4aep-25", "-0x1.2e8866p-23", "0x1.8087e4p-21", "-0x1.15249cp-18",
    "0x1.16ff3p-16", "-0x1.004c1cp-16", "-0x1.7ac0c8p-11", "0x1.6d562ep+0", "0x1.200754p+3")]
# Giles (GPU Computing Gems 2011), double-precision erfinv, w < 6.25, highest power first
GILES_F64 = [float(v) for v in (
    "-3.6444120640178196996e-21", "-1.685059138182016589e-19", "1.2858480715256400167e-18",
    "1.115787767802518096e-17", "-1.333171662854620906e-16", "2.0972767875968561637e-17",
    "6.6376381343583238325e-15", "-4.0545662729752068639e-14", "-8.1519341976054721522e-14",
    "2.6335093153082322977e-12", "-1.2975133253453532498e-11", "-5.4154120542946279317e-11",
    "1.051212273321532285e-09", "-4.1126339803469836976e-09", "-2.9070369957882005086e-08",
    "4.2347877827932403518e-07", "-1.3654692000834678645e-06", "-1.3882523362786468719e-05",
    "0.0001867342080340571352", "-0.00074070253416626697512", "-0.0060336708714301490533",
    "0.24015818242558961693", "1.6536545626831027356")]
# Wichura, AS241 PPND16 (Applied Statistics 37, 1988), lowest power first
AS241_C = [1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
           3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
           2.27238449892691845833e-2, 7.74545014278341407640e-4]
AS241_D = [1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
           1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
           1.05075007164441684324e-9]
AS241_E = [6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
           2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
           2.71155556874348757815e-5, 2.01033439929228813265e-7]
AS241_F = [1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
           7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
           2.04426310338993978564e-15]
SQRT2 = float.fromhex("0x1.6a09e667f3bcdp+0")


def trunc_params(mean: float, std: float, a: float, b: float) -> tuple[float, float, int]:
    """(tail_a, tail_b, form) of fk_params: [a, b] in std units, mirrored above the mean."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    mirror = alpha > 0
    if mirror:
        alpha, beta = -beta, -alpha
    straddle = beta > 0
    phi = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))  # noqa: E731
    return phi(alpha), phi(-beta) if straddle else phi(beta), int(mirror) | int(straddle) << 1


def trunc_float64_arithmetic(span: float, base0: float, base1: float) -> bool:
    """Whether a float32, float16 or bfloat16 fill computes in float64 (fk_params form bit 2):
    t below 2^-126, or fewer than 2^20 steps of t per half in float32 arithmetic (t rounded to
    float32, relative step 2^-23, and lw = log(4t(1 - t)) rounded to float32, whose absolute
    step is a relative step of t), both at the half's largest t."""
    t_min, t_max = min(base0, base1) + span * 2.0**-32, max(base0, base1) + span
    if not t_min >= 2.0**-126 * (1.0 + 2.0**-20):
        return True
    lw = np.float32(abs(math.log(4.0 * t_max * (1.0 - t_max))))
    return span / (t_max * max(2.0**-23, float(np.spacing(lw)))) < 2.0**20


def trunc_halves(mean: float, std: float, tail_a: float, tail_b: float, form: int):
    """(base0, base1, span, sstd0, sstd1) in float64, as fk_trunc_setup."""
    straddle = bool(form & 2)
    s = -std if form & 1 else std
    span = ((1.0 - tail_a) - tail_b) * 0.5 if straddle else (tail_b - tail_a) * 0.5
    base1 = tail_b if straddle else tail_a + span
    return tail_a, base1, span, -s, s if straddle else -s


def _horner32(x, coeffs):
    v = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        v = fma32(v, x, c)
    return v


def trunc_y_f32(t: np.ndarray) -> np.ndarray:
    """-Phi^-1(t) in float32 as fk_trunc_y_f32 (every branch computed, one kept)."""
    t = np.asarray(t, np.float32)
    lw = log_f32(np.float32(4.0) * fma32(-t, t, t))
    central = _horner32(np.float32(-2.5) - lw, TC_F32)
    s = np.sqrt(np.float32(0.0) - lw)
    tail = np.where(lw < np.float32(-16.0), _horner32(s - np.float32(6.5), TF_F32),
                    _horner32(s - np.float32(3.0), TT_F32))  # fmt: skip
    g = np.where(lw < np.float32(-5.0), tail, central)
    return fma32(np.float32(-2.0), t, np.float32(1.0)) * g


def trunc_y_f64(t: float) -> float:
    """-Phi^-1(t) in float64 as fk_trunc_y_f64."""
    lw = log_f64(4.0 * fma64(-t, t, t))
    if not lw < -6.25:
        x = -3.125 - lw
        p = GILES_F64[0]
        for c in GILES_F64[1:]:
            p = fma64(p, x, c)
        return (fma64(-2.0, t, 1.0) * SQRT2) * p
    r = math.sqrt(0.0 - log_f64(t))
    if 5.0 < r:
        return _horner64(r - 5.0, AS241_E) / _horner64(r - 5.0, AS241_F)
    return _horner64(r - 1.6, AS241_C) / _horner64(r - 1.6, AS241_D)


def trunc_normal(seed: int, stream: int, offset: int, n: int, mean: float, std: float,
                 a: float, b: float, lo: float, hi: float, dtype, values: bool = True):
    """What trunc_normal_(arr[n], mean, std, a, b, ...) writes before any 16-bit rounding
    (float32 for float32/float16/bfloat16, float64 for float64), with lo, hi the clamp bounds
    the caller computed; also t per sample (float64, exact: the float32 t in float32
    arithmetic) and s = sstd / std, so that the sample is mean + s std (-Phi^-1(t)) up to the
    transform's error. values=False: t and s only (x is None)."""
    tail_a, tail_b, form = trunc_params(mean, std, a, b)
    base0, base1, span, s0, s1 = trunc_halves(mean, std, tail_a, tail_b, form)
    w = words(seed, stream, offset, n).astype(np.int64)
    h = (w & 1).astype(bool)
    wide = np.dtype(dtype) == np.float64 or trunc_float64_arithmetic(span, base0, base1)
    if wide:
        ts, xs = [], []
        for wi, hi_ in zip(w.tolist(), h.tolist(), strict=True):
            v = float(wi | 1) * 2.0**-32
            t = fma64(span, v, base1 if hi_ else base0)
            ts.append(t)
            if values:
                xs.append(_clamp64(fma64(s1 if hi_ else s0, trunc_y_f64(t), mean), lo, hi))
        x = np.array(xs) if values else None
        if values and np.dtype(dtype) != np.float64:
            x = x.astype(np.float32)  # float64 arithmetic, rounded once to float32
        return x, np.array(ts), np.where(h, s1, s0) / std
    v = fma32(_f32(w >> 1), np.float32(2.0**-31), np.float32(2.0**-32))
    t = fma32(_f32(span), v, np.where(h, _f32(base1), _f32(base0)))
    sstd = np.where(h, _f32(s1), _f32(s0))
    if not values:
        return None, t.astype(np.float64), np.where(h, s1, s0) / std
    x = _clamp(fma32(sstd, trunc_y_f32(t), _f32(mean)), _f32(lo), _f32(hi))
    return x, t.astype(np.float64), np.where(h, s1, s0) / std


def trunc_ideal_t(seed: int, stream: int, offset: int, n: int, mean: float, std: float,
                  a: float, b: float):
    """(t, s) of every sample as exact arithmetic gives them (float64, within 2^-52 of it):
    t = base[h] + H (w | 1) 2^-32, whatever arithmetic the fill uses; the ideal sample is
    mean + s std (-Phi^-1(t))."""
    tail_a, tail_b, form = trunc_params(mean, std, a, b)
    base0, base1, span, s0, s1 = trunc_halves(mean, std, tail_a, tail_b, form)
    w = words(seed, stream, offset, n).astype(np.int64)
    h = (w & 1).astype(bool)
    t = np.where(h, base1, base0) + span * ((w | 1).astype(np.float64) * 2.0**-32)
    return t, np.where(h, s1, s0) / std
