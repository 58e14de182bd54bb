"""Statistical quality report: raw Philox words through dieharder, and large-sample checks of
every transform against exact values. Results and their meaning: docs/QUALITY.md.

    python tools/quality.py dieharder [--tests 0,1,2,3,15,100,101,102] [--seed 0]
    python tools/quality.py samples [--n 1e9] [--case TEXT] [--md PATH]
    python tools/quality.py trunc [--n 1e7] [--bins 2000]

`dieharder` (Debian's package) reads the words as raw input (-g 200). `samples` draws n samples
per (distribution, dtype) in chunks (seed 1) and prints docs/QUALITY.md's two tables: the mean
and the variance in standard errors of their estimates (sqrt(var / n) and sqrt((mu4 - var^2) / n)
with the target law's moments), a chi-square test over 256 equiprobable bins, the largest |z|
seen against the transform's limit, and the tail counts |z| > k for k = 2..6 against the exact
normal values, under a line that says which run gave them (the command, the fastkaiming version
and kernel, this checkout's commit, the day, the CPU and the CPU time); --md writes the same to
a file. Each row is also printed as a dict as soon as it is done; --case keeps the rows
whose name contains TEXT (repeatable), e.g. --case 'normal float32'. `trunc` samples the
truncated-normal intervals of issue 20 (narrow ones near the mean, far tails) in float32 (seed 1)
and prints, per interval, the distinct values, the KS p-value against scipy's truncnorm and a
chi-square over --bins equal-mass bins whose edges sit at float32 rounding midpoints (a bin of
the continuous law would cut float32 values in two), with the float64 fill rounded to float32
beside it.
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
from scipy import special, stats

import fastkaiming as fk
from fastkaiming._bench import _cpu_name

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHUNK = 1 << 24
BINS = 256


def dieharder(tests: list[int], seed: int) -> None:
    words = np.empty(CHUNK, np.uint32)
    for test in tests:
        proc = subprocess.Popen(["dieharder", "-g", "200", "-d", str(test)], stdin=subprocess.PIPE)
        offset = 0
        try:
            while proc.poll() is None:
                fk.random_raw(words, seed=seed, stream=test, offset=offset)
                proc.stdin.write(words.tobytes())  # type: ignore[union-attr]
                offset += CHUNK
        except BrokenPipeError:
            pass
        proc.wait()


def _cases():
    """(label, dtype, fill(out, offset, dtype=), cdf of the target law, limit of |z|)."""
    z32 = math.sqrt(64 * math.log(2))
    z64 = math.sqrt(106 * math.log(2))
    lo, hi = special.ndtr(-2.0), special.ndtr(2.0)

    def tn_cdf(x):  # the CDF of N(0, 1) restricted to (-2, 2); scipy's truncnorm.cdf is slow
        return (special.ndtr(x) - lo) / (hi - lo)

    def normal(t, o, **kw):
        return fk.normal_(t, seed=1, offset=o, **kw)

    def uniform(t, o, **kw):
        return fk.uniform_(t, -1.0, 1.0, seed=1, offset=o, **kw)

    def trunc(t, o, **kw):
        return fk.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, seed=1, offset=o, **kw)

    cases = []
    for dtype in ("float32", "float16", "bfloat16", "float64"):
        cases.append((f"normal {dtype}", dtype, normal, special.ndtr, z64 if dtype == "float64" else z32))
        cases.append((f"uniform {dtype}", dtype, uniform, lambda x: (x + 1) / 2, 1.0))
        cases.append((f"trunc normal (-2, 2) {dtype}", dtype, trunc, tn_cdf, 2.0))
    return cases


def _draw(fill, buf: np.ndarray, offset: int, dtype: str) -> np.ndarray:
    """The samples as float64; bfloat16 travels as uint16 bits."""
    if dtype == "bfloat16":
        fill(buf, offset, dtype="bfloat16")
        return (buf.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return fill(buf, offset).astype(np.float64)


def samples(n: int, only: list[str] | None = None) -> list[dict]:
    rows = []
    for label, dtype, fill, cdf, limit in _cases():
        if only and not any(text in label for text in only):
            continue
        buf = np.empty(CHUNK, np.uint16 if dtype == "bfloat16" else dtype)
        s1 = s2 = 0.0
        tails = np.zeros(5, np.int64)
        hist = np.zeros(BINS, np.int64)
        top = 0.0
        start = time.perf_counter()
        for offset in range(0, n, CHUNK):
            m = min(CHUNK, n - offset)
            x = _draw(fill, buf[:m], offset, dtype)
            s1 += float(x.sum())
            s2 += float(np.dot(x, x))
            a = np.abs(x)
            top = max(top, float(a.max()))
            tails += [np.count_nonzero(a > k) for k in range(2, 7)]
            hist += np.bincount(np.minimum((cdf(x) * BINS).astype(np.int64), BINS - 1), minlength=BINS)
        mean, var = s1 / n, s2 / n - (s1 / n) ** 2
        normal = label.startswith("normal")
        true_var = 1.0
        if label.startswith("uniform"):
            true_var = 1 / 3
        elif "trunc" in label:
            true_var = float(stats.truncnorm(-2, 2).var())
        # the fourth central moment over var^2 (kurtosis), for the variance estimate's SE
        kurtosis = 3.0 if normal else 9 / 5 if label.startswith("uniform") else None
        if kurtosis is None:
            kurtosis = float(stats.truncnorm(-2, 2).stats(moments="k")) + 3
        row = {
            "case": label, "n": n, "seconds": time.perf_counter() - start,
            "mean_se": mean / math.sqrt(true_var / n),
            "var_se": (var - true_var) / (true_var * math.sqrt((kurtosis - 1) / n)),
            # 16-bit grids put whole grid points into single bins: a binning artifact, not tested
            "chi2_p": None if dtype in ("float16", "bfloat16") else float(stats.chisquare(hist).pvalue),
            "max_abs": top, "limit": limit,
        }  # fmt: skip
        if normal:
            exact = [n * math.erfc(k / math.sqrt(2)) for k in range(2, 7)]
            row["tails"] = [(int(c), e) for c, e in zip(tails, exact, strict=True)]
        rows.append(row)
        print(row, flush=True)
    return rows


# (a, b) in std units: issue 20's narrow intervals near the mean and far tails
TRUNC_INTERVALS = [(-1e-5, 1e-5), (-3e-5, 3e-5), (0.0, 1e-4), (-1e-4, 1e-4), (-0.1, 0.1), (-0.2, 0.2),
                   (-12.5, -11.5), (-9.0, -8.0), (-5.0, -4.0), (-3.0, -2.0), (-2.0, 2.0)]  # fmt: skip


def _float32_chi2_p(x: np.ndarray, dist, bins: int) -> float:
    """Chi-square p of float32 samples x over `bins` equal-mass bins of dist, each edge moved
    to the float32 rounding midpoint next to it (the law of the samples rounded to float32)."""
    e = dist.ppf(np.linspace(0, 1, bins + 1)[1:-1]).astype(np.float32)
    edges = np.unique((e.astype(np.float64) + np.nextafter(e, np.float32(np.inf)).astype(np.float64)) / 2)
    expected = x.size * np.diff(np.concatenate([[0.0], dist.cdf(edges), [1.0]]))
    counts = np.bincount(np.searchsorted(edges, x), minlength=edges.size + 1)
    return float(stats.chi2.sf(((counts - expected) ** 2 / expected).sum(), edges.size))


def trunc(n: int, bins: int) -> None:
    for a, b in TRUNC_INTERVALS:
        dist = stats.truncnorm(a, b)
        form = fk._api._trunc_normal_params(0.0, 1.0, a, b, "float32")[-1]
        x = fk.trunc_normal_(np.empty(n, np.float32), 0.0, 1.0, a, b, seed=1).astype(np.float64)
        x64 = fk.trunc_normal_(np.empty(n), 0.0, 1.0, a, b, seed=1).astype(np.float32).astype(np.float64)
        row = {"interval": (a, b), "arithmetic": "float64" if form & 4 else "float32",
               "distinct": len(np.unique(x)), "ks_p": float(stats.kstest(x, dist.cdf).pvalue),
               "chi2_p": _float32_chi2_p(x, dist, bins), "float64_chi2_p": _float32_chi2_p(x64, dist, bins)}  # fmt: skip
        print(row, flush=True)


def _count(n: int) -> str:
    """n as docs/QUALITY.md writes it: 10^9, or the plain number."""
    k = round(math.log10(n)) if n > 0 else 0
    return f"10^{k}" if 10**k == n else str(n)


def markdown(rows: list[dict]) -> str:
    """docs/QUALITY.md's two tables, with its column names and rounding."""
    lines = ["| case | n | mean, in SE | variance, in SE | chi-square p (256 bins) | largest abs value "
             "| limit |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        chi2 = "n/a (grid)" if r["chi2_p"] is None else format(r["chi2_p"], ".3f")
        lines.append(f"| {r['case']} | {_count(r['n'])} | {r['mean_se']:+.2f} | {r['var_se']:+.2f} | "
                     f"{chi2} | {r['max_abs']:.4f} | {r['limit']:.4f} |")  # fmt: skip
    tails = " | ".join(f"P(\\|z\\| > {k})" for k in range(2, 7))
    lines += ["", f"| normal, seen / expected | {tails} |", "|---|---|---|---|---|---|"]
    for r in rows:
        if "tails" in r:
            cells = [f"{c} / {e:.1f}" for c, e in r["tails"]]
            lines.append(f"| {r['case']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _commit() -> str:
    """This checkout's commit (with -dirty when files differ from it), or why there is none."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=7"], cwd=ROOT,
                              capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return done.stdout.strip()


def provenance(command: str, commit: str, cpu_seconds: float) -> str:
    """The line above the tables: which command, build, commit (at the start), day and machine
    gave them."""
    info = fk.runtime_info()
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return (f"`{command}` (seed 1): fastkaiming {fk.__version__} ({info['isa']} kernel), tools/quality.py "
            f"of commit {commit}, {day}, {_cpu_name()} ({os.cpu_count()} CPUs), "
            f"{cpu_seconds:.0f} s of CPU time.")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dieharder")
    d.add_argument("--tests", default="0,1,2,3,15,100,101,102")
    d.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("samples")
    s.add_argument("--n", type=float, default=1e9)
    s.add_argument("--case", action="append", metavar="TEXT", help="only the rows whose name contains TEXT")
    s.add_argument("--md", metavar="PATH")
    t = sub.add_parser("trunc")
    t.add_argument("--n", type=float, default=1e7)
    t.add_argument("--bins", type=int, default=2000)
    args = parser.parse_args(argv)
    if args.command == "dieharder":
        dieharder([int(t) for t in args.tests.split(",")], args.seed)
    elif args.command == "trunc":
        trunc(int(args.n), args.bins)
    else:
        start, commit = time.process_time(), _commit()  # the checkout as the run starts
        tables = markdown(samples(int(args.n), args.case))
        cases = "".join(f" --case {text!r}" for text in args.case or [])
        n = int(args.n)
        k = round(math.log10(n)) if n > 0 else 0
        command = f"python tools/quality.py samples --n {f'1e{k}' if 10**k == n and k > 3 else n}{cases}"
        text = provenance(command, commit, time.process_time() - start) + "\n\n" + tables
        print(text)
        if args.md:
            with open(args.md, "w") as f:
                f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
