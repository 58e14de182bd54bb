"""Truncated normal against the Box-Muller normal and torch: the targets of issue 11, as ratios.

    FASTKAIMING_ISA=avx2 python bench/trunc_ratios.py [--mib 1024] [--threads 1] [--rounds 5]

Every rate is a median over --rounds fills of one float32 buffer of --mib MiB, in this process,
with the same kernel (FASTKAIMING_ISA) and thread count as the normal_ it is compared with; each
ratio is the median of per-round ratios, the two fills alternating (robust to a shared machine).
Then the 16-bit dtypes against float32, a narrow interval (float64 arithmetic, rounded to
float32) against +-2 std, and the ViT-Base Linear weights (12 blocks of 2304x768,
768x768, 3072x768, 768x3072, float32, one thread) against torch.nn.init.trunc_normal_ and
torch's normal_ (torch.set_num_threads(1)).
"""
import argparse
import statistics
import time

import numpy as np

import fastkaiming as fk


def median_s(fn, rounds):
    fn()  # warm up (page faults, pool start)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median_ratio(base, fn, rounds):
    """Median over rounds of time(base) / time(fn), the two run back to back each round."""
    base(), fn()
    ratios, times = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        base()
        t1 = time.perf_counter()
        fn()
        t2 = time.perf_counter()
        ratios.append((t1 - t0) / (t2 - t1))
        times.append(t2 - t1)
    return statistics.median(ratios), statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    n = (args.mib << 20) // 4
    th = args.threads
    isa = {v: k for k, v in fk._core.isa_names().items()}.get(fk._api._ISA, "auto")
    print(f"kernel {isa}, threads {th}, float32 buffer {args.mib} MiB, median of {args.rounds}")
    buf = np.zeros(n, np.float32)
    w2d = buf.reshape(-1, 1024)
    rate = lambda s: n / s / 1e9  # noqa: E731
    normal = lambda: fk.normal_(buf, 0.0, 0.02, seed=0, threads=th)  # noqa: E731
    base = median_s(normal, args.rounds)
    print(f"{'normal_ (Box-Muller)':44s} {rate(base):6.3f} G/s  1.00x")
    cases = {
        "trunc_normal_ (+-2 std)": lambda: fk.trunc_normal_(buf, 0.0, 1.0, -2.0, 2.0, seed=0, threads=th),
        "he_normal_ (Keras)": lambda: fk.he_normal_(w2d, seed=0, threads=th),
        "trunc_normal_(std=0.02), a=-2, b=2": lambda: fk.trunc_normal_(buf, 0.0, 0.02, seed=0, threads=th),
    }
    for name, fn in cases.items():
        r, s = median_ratio(normal, fn, args.rounds)
        print(f"{name:44s} {rate(s):6.3f} G/s  {r:.2f}x of normal_ (target >= 0.6)")
    f32 = cases["trunc_normal_(std=0.02), a=-2, b=2"]
    for dtype in ("float16", "bfloat16"):
        raw = bytearray(2 * n)
        r, s = median_ratio(f32, lambda raw=raw, dt=dtype: fk.trunc_normal_(raw, 0.0, 0.02, seed=0, threads=th,
                                                                           dtype=dt), args.rounds)  # fmt: skip
        print(f"{'trunc_normal_(std=0.02) ' + dtype:44s} {rate(s):6.3f} G/s  {r:.2f}x of float32 (target >= 0.9)")
    # float64 arithmetic rounded to float32 (a half of [a, b] holds < 2^20 float32 steps of t)
    narrow = lambda: fk.trunc_normal_(buf, 0.0, 1.0, -0.1, 0.1, seed=0, threads=th)  # noqa: E731
    r, s = median_ratio(cases["trunc_normal_ (+-2 std)"], narrow, args.rounds)
    print(f"{'trunc_normal_ [-0.1, 0.1] std (float64 arith.)':44s} {rate(s):6.3f} G/s  {r:.2f}x of +-2 std")
    buf64 = np.zeros(n // 2)
    s64 = median_s(lambda: fk.trunc_normal_(buf64, 0.0, 1.0, -2.0, 2.0, seed=0, threads=th), args.rounds)
    print(f"{'trunc_normal_ (+-2 std) float64':44s} {n / 2 / s64 / 1e9:6.3f} G/s")
    if args.no_torch:
        return
    import torch

    torch.set_num_threads(1)
    shapes = [(2304, 768), (768, 768), (3072, 768), (768, 3072)] * 12
    ws = [torch.empty(s) for s in shapes]
    total = sum(w.numel() for w in ws)

    def fk_vit():
        for w in ws:
            fk.trunc_normal_(w, std=0.02, a=-2.0, b=2.0, seed=0, threads=1)

    def torch_trunc():
        for w in ws:
            torch.nn.init.trunc_normal_(w, std=0.02)

    def torch_normal():
        for w in ws:
            w.normal_(0.0, 0.02)

    r_tt, t_fk = median_ratio(torch_trunc, fk_vit, args.rounds)
    r_tn, _ = median_ratio(torch_normal, fk_vit, args.rounds)
    print(f"ViT-Base Linear weights ({total / 1e6:.1f} M values, float32, one thread):")
    print(f"  fastkaiming trunc_normal_(std=0.02)  {t_fk * 1e3:8.1f} ms")
    print(f"  torch.nn.init.trunc_normal_          {r_tt:.1f}x slower (target >= 5)")
    print(f"  torch normal_                        {r_tn:.2f}x slower (target > 1)")


if __name__ == "__main__":
    main()
