"""Buffers past 2**31 elements: 64-bit indexing all the way down."""
import os
import subprocess
import sys

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


RSS_PROBE = """
import resource, sys
import os
import subprocess
import sys

import numpy as np
import fastkaiming as fk
n = 1 << 30  # 4 GiB of float32
w = np.empty(n, np.float32)  # not touched yet: the fill makes the first touch
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fk.kaiming_normal_(w, fan_in=4096, seed=0)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024 - w.nbytes)
"""


@pytest.mark.skipif(available_bytes() < 8 << 30, reason="needs 8 GiB of free memory (4 GiB buffer)")
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_filling_4_gib_adds_no_copies(isa):
    # peak RSS grows by the buffer's own pages and less than 16 MiB more
    name = {code: name for name, code in fk._core.isa_names().items()}[isa]
    env = {**os.environ, "FASTKAIMING_ISA": name}
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) < 16 << 20
