"""The constants of csrc/transforms.h are the documented coefficients, correctly rounded."""
import math
import pathlib
import re
from fractions import Fraction

import numpy as np
import pytest

HEADER = pathlib.Path(__file__).resolve().parents[1] / "csrc" / "transforms.h"
pytestmark = pytest.mark.skipif(not HEADER.exists(), reason="needs the source tree (csrc/)")

# 40 significant digits
PI = Fraction("3.141592653589793238462643383279502884197")
LN2 = Fraction("0.6931471805599453094172321214581765680755")


def header_constants():
    text = HEADER.read_text()
    pattern = r"#define (FK_\w+) \((-?0x[0-9a-f.]+p[-+]?\d+)f?\)"
    return {name: float.fromhex(value) for name, value in re.findall(pattern, text)}


def is_correctly_rounded(c, exact, dtype):
    x = dtype(c)
    err = abs(Fraction(float(x)) - exact)
    for n in (np.nextafter(x, dtype(np.inf)), np.nextafter(x, dtype(-np.inf))):
        if abs(Fraction(float(n)) - exact) < err:
            return False
    return True


def expected():
    exact = {}
    for k in range(1, 9):
        exact[f"FK_S{k}"] = Fraction((-1) ** k, math.factorial(2 * k + 1))
        exact[f"FK_C{k}"] = Fraction((-1) ** k, math.factorial(2 * k))
    for k in range(1, 12):
        exact[f"FK_L{k}"] = Fraction(2, 2 * k + 1)
    exact["FK_PI4"] = PI / 4
    exact["FK_LN2"] = LN2
    return exact


def test_every_polynomial_constant():
    consts = header_constants()
    exact = expected()
    checked = 0
    for name, value in consts.items():
        if name.endswith("F") and name[:-1] in exact:
            assert is_correctly_rounded(value, exact[name[:-1]], np.float32), name
            checked += 1
        elif name in exact:
            assert is_correctly_rounded(value, exact[name], np.float64), name
            checked += 1
    # f64 S, C, L; f32 S, C, L; FK_PI4, FK_PI4F, FK_LN2F
    assert checked == 8 + 8 + 11 + 4 + 5 + 4 + 3


def test_scaled_pi_over_4():
    consts = header_constants()
    assert consts["FK_PI4F_2M24"] == consts["FK_PI4F"] * 2.0**-24
    assert consts["FK_PI4_2M53"] == consts["FK_PI4"] * 2.0**-53


def test_ln2_split():
    consts = header_constants()
    hi, lo = Fraction(consts["FK_LN2_HI"]), Fraction(consts["FK_LN2_LO"])
    assert abs(hi + lo - LN2) < Fraction(1, 2**85)
    # e * LN2_HI is exact for |e| <= 1100: at least 11 trailing zero bits
    assert (hi * 2**42).denominator == 1
