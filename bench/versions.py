"""One fill's rate in this checkout against another checkout of fastkaiming (an older version).

    git worktree add /tmp/fk-0.1.0 8996922     # 0.1.0
    (cd /tmp/fk-0.1.0 && python setup.py -q build_ext --inplace)
    FASTKAIMING_ISA=avx2 python bench/versions.py /tmp/fk-0.1.0 [--fill trunc64] [--rounds 7]

Each round times the fill once in a fresh process per checkout (PYTHONPATH=<checkout>/src; median
of 3 after a warm-up, same buffer size, kernel and thread count), the two alternating, so load on
a shared machine hits both alike. Prints the median rate of each and the median per-round ratio.
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys

FILLS = {  # name: (dtype, call on the buffer `b`)
    "trunc64": ("float64", "fk.trunc_normal_(b, 0.0, 1.0, -2.0, 2.0, seed=0, threads=T)"),
    "trunc32": ("float32", "fk.trunc_normal_(b, 0.0, 1.0, -2.0, 2.0, seed=0, threads=T)"),
    "normal64": ("float64", "fk.normal_(b, 0.0, 1.0, seed=0, threads=T)"),
    "normal32": ("float32", "fk.normal_(b, 0.0, 1.0, seed=0, threads=T)"),
}

CHILD = """
import statistics, time, numpy as np, fastkaiming as fk
T = {threads}
b = np.zeros({n}, np.{dtype})
f = lambda: {call}
f()
ts = []
for _ in range(3):
    t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
print({n} / statistics.median(ts) / 1e9)
"""


def rate(src, fill, mib, threads):
    dtype, call = FILLS[fill]
    n = (mib << 20) // (8 if dtype == "float64" else 4)
    code = CHILD.format(threads=threads, n=n, dtype=dtype, call=call)
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise SystemExit(f"{src}: {out.stderr.strip()}")
    return float(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("other", type=pathlib.Path, help="the other checkout (its src/ is imported)")
    ap.add_argument("--fill", choices=sorted(FILLS), default="trunc64")
    ap.add_argument("--mib", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    here = pathlib.Path(__file__).resolve().parents[1] / "src"
    other = args.other.resolve() / "src"
    mine, theirs, ratios = [], [], []
    for _ in range(args.rounds):
        a = rate(here, args.fill, args.mib, args.threads)
        b = rate(other, args.fill, args.mib, args.threads)
        mine.append(a)
        theirs.append(b)
        ratios.append(a / b)
    isa = os.environ.get("FASTKAIMING_ISA", "auto")
    print(f"{args.fill}, kernel {isa}, threads {args.threads}, {args.mib} MiB, median of {args.rounds} rounds")
    print(f"  this checkout  {statistics.median(mine):.3f} G/s")
    print(f"  {args.other}  {statistics.median(theirs):.3f} G/s")
    print(f"  ratio          {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
