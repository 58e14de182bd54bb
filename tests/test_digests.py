"""The digests of tests/data/kernel_digests.txt, through the binding, on every kernel.

The C harness (tests/c/test_kernels.c) checks the same file natively and on AArch64 under
qemu-aarch64, so one file holds every architecture to the same bits. After a deliberate stream
change, regenerate it with `make -C tests/c digests` and review the diff.
"""
import hashlib
from pathlib import Path

import numpy as np
import pytest

from fastkaiming import _core

DIGESTS = Path(__file__).parent / "data" / "kernel_digests.txt"
# fk_dtype code -> the NumPy dtype of its bytes (bfloat16 as its 16-bit patterns), little-endian
DTYPES = {
    _core.DTYPE_UINT32: "<u4",
    _core.DTYPE_FLOAT16: "<f2",
    _core.DTYPE_FLOAT32: "<f4",
    _core.DTYPE_FLOAT64: "<f8",
    _core.DTYPE_BFLOAT16: "<u2",
}


def _entries():
    out = []
    for line in DIGESTS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split()
        assert len(f) == 17, line
        out.append({
            "name": f[0], "dist": int(f[1]), "dtype": int(f[2]),
            "seed": int(f[3], 16) | int(f[4], 16) << 32, "stream": int(f[5], 16),
            "block": int(f[6], 16), "phase": int(f[7]), "n": int(f[8]),
            "params": [float.fromhex(x) for x in f[9:15]], "form": int(f[15]), "sha256": f[16],
        })
    return out


ENTRIES = _entries()


def test_every_distribution_and_dtype_has_digests():
    pairs = {(e["dist"], e["dtype"]) for e in ENTRIES}
    valid = {(d, t) for d in range(4) for t in DTYPES if _core.samples_per_block(d, t)}
    assert pairs == valid
    assert len(ENTRIES) == len({(e["name"], e["block"]) for e in ENTRIES})


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e['name']}@{e['block']:x}" for e in ENTRIES])
def test_digest(entry, isa):
    out = np.empty(entry["n"], DTYPES[entry["dtype"]])
    loc, scale, lo, hi, tail_a, tail_b = entry["params"]
    _core.fill(out, entry["dtype"], entry["dist"], loc, scale, lo, hi, tail_a, tail_b, entry["form"],
               entry["seed"], entry["stream"], entry["block"], entry["phase"], None, 1, isa, False)
    assert hashlib.sha256(out.tobytes()).hexdigest() == entry["sha256"]


def test_digests_can_fail(isa):
    """The same fill one sample later has another digest (the check is not vacuous)."""
    e = ENTRIES[0]
    out = np.empty(e["n"], DTYPES[e["dtype"]])
    _core.fill(out, e["dtype"], e["dist"], *e["params"], e["form"], e["seed"], e["stream"],
               e["block"], e["phase"] + 1, None, 1, isa, False)
    assert hashlib.sha256(out.tobytes()).hexdigest() != e["sha256"]
