"""Write a .npy file larger than free memory with fastkaiming.init_file; report peak RSS.

    python bench/bench_init_file.py PATH [SIZE]      # SIZE default 32GiB

Prints the file size, the time, the write rate and the process's peak RSS (ru_maxrss), which
must stay below 256 MiB whatever the file size (chunks of 64 MiB).
"""
import os
import resource
import sys
import time

import fastkaiming as fk
from fastkaiming._bench import parse_size


def main() -> None:
    path = sys.argv[1]
    size = parse_size(sys.argv[2]) if len(sys.argv) > 2 else 32 << 30
    side = 16384
    rows = size // (side * 2)  # float16
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    avail = int(info["MemAvailable"].split()[0]) * 1024
    start = time.perf_counter()
    fk.init_file(path, (rows, side), dtype="float16", init="kaiming_normal", nonlinearity="relu",
                 seed=0, quiet=True)  # fmt: skip
    seconds = time.perf_counter() - start
    nbytes = os.path.getsize(path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"file {nbytes / 2**30:.2f} GiB ({rows} x {side} float16), free memory before "
          f"{avail / 2**30:.2f} GiB; {seconds:.1f} s, {nbytes / seconds / 1e9:.2f} GB/s; "
          f"peak RSS {peak / 2**20:.1f} MiB")  # fmt: skip
    assert peak < 256 << 20, "peak RSS above 256 MiB"


if __name__ == "__main__":
    main()
