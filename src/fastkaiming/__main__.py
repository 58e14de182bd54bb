"""Command line: `python -m fastkaiming bench` (also the `fastkaiming` console script)."""
from __future__ import annotations

import argparse
import sys

from . import _bench


def _size(text: str) -> int:
    try:
        return _bench.parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _threads(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threads must be an int or auto, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastkaiming", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser(
        "bench",
        help="fill one large buffer with He normal and uniform samples, next to NumPy and memset",
    )
    bench.add_argument("--size", type=_size, default=None,
                       help="buffer size, e.g. 1GiB (default), 256MiB, 4KiB")  # fmt: skip
    bench.add_argument("--dtype", choices=["float32", "float64", "float16"], default="float32")
    bench.add_argument("--threads", type=_threads, default=None,
                       help="threads for fastkaiming: a count, negative to count back, or auto")  # fmt: skip
    bench.add_argument("--repeat", type=int, default=5, help="timed runs per fill (median)")
    bench.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    bench.add_argument(
        "--plot",
        metavar="PATH",
        help="also sweep sizes from 4 KiB up; save a PNG of GB/s (needs matplotlib)",
    )
    args = parser.parse_args(argv)

    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("--plot needs matplotlib: pip install 'fastkaiming[plot]'")
    size = args.size or _bench.default_size()
    try:
        result = _bench.run(size, args.dtype, args.threads, args.repeat)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    print(_bench.format_table(result))
    if args.json:
        _bench.write_json(result, args.json)
    if args.plot:
        _bench.plot(_bench.sweep(size, args.dtype, args.threads, args.repeat), args.plot)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
