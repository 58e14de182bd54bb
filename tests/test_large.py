"""Buffers past 2**31 elements: 64-bit indexing all the way down."""
import numpy as np
import pytest

import fastkaiming as fk


def available_bytes():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@pytest.mark.skipif(available_bytes() < 8 << 30, reason="needs 8 GiB of free memory (4 GiB buffer)")
def test_fill_past_2_to_the_31_elements(isa):
    n = (1 << 31) + 67
    w = np.empty(n, np.float16)  # 4 GiB
    fk.uniform_(w, -1.0, 1.0, seed=8, stream=1)
    for start in (0, (1 << 31) - 5, n - 64):
        ref = fk.uniform_(np.empty(64, np.float16), -1.0, 1.0, seed=8, stream=1, offset=start)
        np.testing.assert_array_equal(w[start : start + 64], ref)
    del w
