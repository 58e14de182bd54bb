"""Command line: `python -m fastkaiming bench` (also the `fastkaiming` console script)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

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


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must look like 1024,4096, got {text!r}") from None


def _init(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from ._files import init_file

    kwargs: dict[str, Any] = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--param takes KEY=VALUE, got {item!r}")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    for key in ("nonlinearity", "mode"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    try:
        if args.spec is not None:
            with open(args.spec) as f:
                spec = json.load(f)
            path = init_file(args.out, spec=spec, seed=args.seed, chunk_bytes=args.chunk,
                             quiet=args.quiet or None)  # fmt: skip
        else:
            path = init_file(args.out, args.shape, init=args.init, dtype=args.dtype, seed=args.seed,
                             stream=args.stream, chunk_bytes=args.chunk, quiet=args.quiet or None,
                             **kwargs)  # fmt: skip
    except (TypeError, ValueError, OSError) as exc:
        parser.error(str(exc))
    print(f"wrote {path}")
    return 0


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
    init = sub.add_parser(
        "init",
        help="write an initialized .npy tensor or .safetensors model, in bounded memory",
        description="Write OUT in chunks through a memory map, with a progress bar; OUT appears "
        "only when complete. .npy: one tensor (--shape); .safetensors: a model (--spec JSON: "
        '{"name": {"shape": [...], "dtype": "float16", "init": "kaiming_normal", ...}}).',
    )
    init.add_argument("out", metavar="OUT", help="a .npy or .safetensors path")
    init.add_argument("--shape", type=_shape, help="e.g. 65536,65536 (for .npy)")
    init.add_argument("--spec", metavar="JSON", help="model spec file (for .safetensors)")
    init.add_argument("--dtype", default="float32", choices=["float32", "float64", "float16"])
    init.add_argument("--init", default="kaiming_normal", help="initializer (default kaiming_normal)")
    init.add_argument("--nonlinearity", help="for kaiming_*: relu, leaky_relu, tanh, ...")
    init.add_argument("--mode", help="fan_in, fan_out or fan_avg")
    init.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                      help="any other initializer argument, VALUE as JSON (e.g. std=0.02)")  # fmt: skip
    init.add_argument("--seed", type=int, required=True)
    init.add_argument("--stream", type=int, default=0)
    init.add_argument("--chunk", type=_size, default=64 << 20, help="bytes per chunk (default 64MiB)")
    init.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    if args.command == "init":
        return _init(parser, args)
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
