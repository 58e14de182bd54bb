"""Fit the float32 polynomials of the truncated normal (csrc/transforms.h) and print them.

    python tools/trunc_constants.py

The float32 sampler computes y = -Phi^-1(t) as x * G(w) with x = 1 - 2t, w = -log(4t(1 - t))
(the variables of Giles, "Approximating the erfinv function", GPU Computing Gems 2011), so
G(w) = sqrt(2) erfinv(x) / x. G is fitted here by least squares in relative error on
Chebyshev nodes (scipy.special.ndtri as the truth), one polynomial per branch:
  central  w in [0, 5]          in (w - 2.5), degree 9
  tail     sqrt(w) in [sqrt 5, 4]    in (sqrt(w) - 3), degree 9
  far      sqrt(w) in [4, sqrt 88]   in (sqrt(w) - 6.5), degree 9 (t >= 2^-126: w <= 86)
The coefficients are rounded to float32; the printed error is the fit's, in units of 2^-24
relative, before the float32 evaluation (tests/test_trunc_normal.py checks the samples).
The float64 sampler uses Giles' published double-precision central polynomial and AS241.
"""
import re

import numpy as np
from scipy import special

BRANCHES = (("TC", 0.0, 5.0, 2.5, "w"), ("TT", 5**0.5, 4.0, 3.0, "s"), ("TF", 4.0, 88**0.5, 6.5, "s"))
DEGREE = 9


def g(w):
    """G(w) = y / x with t = e^-w / (2 (1 + x)), x = sqrt(1 - e^-w) (no cancellation)."""
    x = np.sqrt(-np.expm1(-w))
    t = np.exp(-w) / (2 * (1 + x))
    return -special.ndtri(t) / x


def fit(lo, hi, center, var):
    k = np.arange(4000)
    s = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / 4000)
    y = g(s if var == "w" else s * s)
    a = np.vander(s - center, DEGREE + 1)
    c, *_ = np.linalg.lstsq(a / y[:, None], np.ones_like(y), rcond=None)
    c32 = c.astype(np.float32)
    ss = np.linspace(lo, hi, 100001)[1:]
    err = np.abs(np.polyval(c32.astype(np.float64), ss - center) / g(ss if var == "w" else ss * ss) - 1)
    return c32, err.max() / 2**-24


def hex32(v):
    """C99 hex literal of a float32, without trailing zero digits."""
    return re.sub(r"\.?0+p", "p", float(v).hex()) + "f"


def main():
    for name, lo, hi, center, var in BRANCHES:
        c32, err = fit(lo, hi, center, var)
        where = f"{var} in [{lo:.4g}, {hi:.4g}], in ({var} - {center})"
        print(f"/* {name}: {where}; fit error {err:.2f} x 2^-24 */")
        print(f"static const float fk_{name.lower()}_f32[{DEGREE + 1}] = {{  /* highest power first */")
        print("    " + ", ".join(hex32(v) for v in c32) + "};")


if __name__ == "__main__":
    main()
