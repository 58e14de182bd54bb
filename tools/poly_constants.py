"""Print the polynomial constants of csrc/transforms.h as C hex literals.

    python tools/poly_constants.py

sin/cos: Taylor coefficients (-1)^k / (2k+1)! and (-1)^k / (2k)!; log: 2 / (2k + 1) of
2 atanh(s). float32 values are the float64 value rounded to float32 (one rounding from the
exact rational is the same here: each float64 is exact to 53 bits and no constant sits near
a float32 rounding boundary; tests/test_constants.py checks the header against exact
rationals). Also prints the truncation error bound of each polynomial on its interval.
"""
import math
from fractions import Fraction

import numpy as np


def coefficients():
    sin = [Fraction((-1) ** k, math.factorial(2 * k + 1)) for k in range(1, 9)]
    cos = [Fraction((-1) ** k, math.factorial(2 * k)) for k in range(1, 9)]
    log = [Fraction(2, 2 * k + 1) for k in range(1, 12)]
    return {"S": sin, "C": cos, "L": log}


def main():
    terms32 = {"S": 4, "C": 5, "L": 4}
    for prefix, values in coefficients().items():
        for k, v in enumerate(values, 1):
            f64 = float(v).hex()
            line = f"#define FK_{prefix}{k} ({f64})"
            if k <= terms32[prefix]:
                line += f"    /* FK_{prefix}{k}F: {float(np.float32(float(v))).hex()}f */"
            print(line)
    x = math.pi / 4
    for name, n32, n64 in (("sin", 11, 19), ("cos", 12, 18)):
        e32, e64 = x**n32 / math.factorial(n32), x**n64 / math.factorial(n64)
        print(f"/* {name} f32 truncation <= {e32:.2e}, f64 <= {e64:.2e} */")
    z = ((math.sqrt(2) - 1) / (math.sqrt(2) + 1)) ** 2
    print(f"/* log f32 relative truncation <= {z**5 / 11:.2e}, f64 <= {z**12 / 25:.2e} */")


if __name__ == "__main__":
    main()
