"""Command line: `python -m fastkaiming bench` and `... init` (also the `fastkaiming` console script)."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from . import _bench, _fans
from ._version import __version__


def _size(text: str) -> int:
    try:
        return _bench.parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _threads(text: str) -> int | None:
    """A thread count as the fills take it (auto: None); 0 and non-integers in argparse's words."""
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"expected a nonzero int (a count, or negative to count back from the usable cores) "
            f"or auto, got {text!r}"
        )
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}")
    return value


def _shape(text: str) -> tuple[int, ...]:
    """Ints separated by commas or x; an empty entry ("4,,4", ",", "") is an error, not dropped."""
    try:
        return tuple(int(d) for d in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"shape must be ints separated by commas or x, e.g. 1024,4096, got {text!r}"
        ) from None


_UNREAD = object()  # a spec file that could not be read or parsed


def _load_spec(path: str) -> tuple[object, list[str]]:
    """The spec file's JSON and its problems (json.load alone keeps the last of duplicate keys)."""
    problems: list[str] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                problems.append(f"spec file {path}: {key!r} appears twice in one object")
            seen[key] = value
        return seen

    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, object_pairs_hook=unique), problems
    except OSError as exc:
        return _UNREAD, [f"cannot read spec file {path}: {exc.strerror or exc}"]
    except ValueError as exc:  # JSONDecodeError (with line and column), UnicodeDecodeError
        return _UNREAD, [f"spec file {path} is not valid JSON: {exc}"]


def _init_kwargs(args: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    """--nonlinearity, --mode and each --param KEY=VALUE (VALUE as JSON, else a string)."""
    kwargs: dict[str, Any] = {}
    named = [f"{key}={getattr(args, key)}" for key in ("nonlinearity", "mode")
             if getattr(args, key) is not None]  # fmt: skip
    for item in named + args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            problems.append(f"--param takes KEY=VALUE, got {item!r}")
            continue
        if key in kwargs:
            problems.append(f"{key} is given twice (--param {key}=..., --{key})")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    return kwargs


def _fail(parser: argparse.ArgumentParser, problems: list[str], status: int = 2) -> int:
    """One line per problem on stderr, as argparse words its own errors; no traceback."""
    if status == 2:
        parser.print_usage(sys.stderr)
    for line in problems:
        print(f"{parser.prog}: error: {line}", file=sys.stderr)
    return status


def _init(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Check everything (the whole spec included) before any file exists; then write."""
    from . import _checks, _files

    problems: list[str] = []
    kwargs = _init_kwargs(args, problems)
    dtype = args.dtype or "float32"
    if args.out.endswith(".safetensors"):
        if args.spec is None:
            problems.append("a .safetensors file needs --spec (a JSON file of the tensors)")
        if args.shape is not None:
            problems.append("--shape is for a .npy file; a .safetensors file takes its shapes from --spec")
        if kwargs or args.stream is not None:
            problems.append("--stream, --nonlinearity, --mode and --param are for a .npy file; "
                            "give a .safetensors tensor's arguments in its spec entry")  # fmt: skip
        spec, more = _load_spec(args.spec) if args.spec is not None else (_UNREAD, [])
        problems += more
        if problems:
            if spec is not _UNREAD:  # report the spec's own problems too
                try:
                    _files.check_spec(spec, seed=_checks.seed(args.seed), dtype=dtype, init=args.init)
                except (TypeError, ValueError) as exc:
                    problems += str(exc).splitlines()
            return _fail(parser, problems)
        call: dict[str, Any] = {"spec": spec}
    elif args.out.endswith(".npy"):
        if args.shape is None:
            problems.append("a .npy file needs --shape, e.g. --shape 4096,1024")
        if args.spec is not None:
            problems.append("--spec is for a .safetensors file; a .npy file holds one tensor (--shape)")
        if problems:
            return _fail(parser, problems)
        call = {"shape": args.shape, "stream": args.stream or 0, **kwargs}
    else:
        return _fail(parser, [f"OUT must end in .npy or .safetensors, got {args.out!r}"])
    try:
        with _files.stop_signals_raise(redeliver=False):  # SIGTERM, SIGHUP: as Ctrl-C, reported
            path = _files.init_file(args.out, seed=args.seed, init=args.init, dtype=dtype,
                                    chunk_bytes=args.chunk, quiet=args.quiet or None, **call)  # fmt: skip
    except (TypeError, ValueError) as exc:
        return _fail(parser, str(exc).splitlines())
    except OSError as exc:  # no room, no such folder, ...: nothing was left behind
        return _fail(parser, [str(exc)], status=1)
    except KeyboardInterrupt as exc:  # the shell's status for a signal: 128 + its number
        stop = exc if isinstance(exc, _files.Interrupted) else _files.Interrupted(signal.SIGINT)
        return _fail(parser, [str(_files.Interrupted(stop.signum, args.out, stop.replaced))],
                     status=128 + stop.signum)  # fmt: skip
    print(f"wrote {path}")
    return 0


_SIZES = "a byte count or a size such as 4KiB, 256MiB, 1GiB, 1.5GB (KB, MB, GB: powers of 10)"
_BENCH_EPILOG = "Exit status: 0 when every fill was timed, 2 for an argument error."
_INIT_EPILOG = (
    "Exit status: 0 when OUT is written; 1 when the disk lacks room for it or another error of the "
    "file system stops the write (nothing is left behind); 2 for an argument error, one line per "
    "problem (nothing is written); 128 + N when stopped by signal N (130 for Ctrl-C, 143 for "
    "SIGTERM, 129 for SIGHUP): OUT is left as it was."
)


def build_parser() -> argparse.ArgumentParser:
    """The `fastkaiming` command's parser: `bench` and `init`, each with its own parser as the
    `parser` default of its namespace (for errors in that subcommand's name)."""
    parser = argparse.ArgumentParser(prog="fastkaiming", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser(
        "bench",
        help="fill one large buffer with each initializer, next to NumPy, torch and memset",
        description="Time each --init on one prefaulted square buffer: the median, minimum and "
        "maximum of --repeat rounds, for fastkaiming, NumPy's equivalent where NumPy has the "
        "distribution (its Generator fills on one thread), torch.nn.init's where torch is "
        "installed and has it (glorot_uniform: xavier_uniform_; held to the same thread count) "
        "and memset, all measured in this run. The ratios are of the medians.",
        epilog=_BENCH_EPILOG,
    )
    bench.set_defaults(parser=bench)
    bench.add_argument("--init", nargs="+", action="extend", choices=list(_bench.CASES), metavar="NAME",
                       help=f"initializers to time, one or more of {', '.join(_bench.CASES)} "
                       f"(default: {' '.join(_bench.DEFAULT_INITS)})")  # fmt: skip
    bench.add_argument("--size", type=_size, default=None,
                       help=f"buffer size in bytes: {_SIZES} (default: 1GiB, or a quarter of the "
                       "available memory if that is less)")  # fmt: skip
    bench.add_argument("--dtype", choices=list(_bench.DTYPES), default="float32",
                       help=f"element type, one of {', '.join(_bench.DTYPES)} (default: float32; "
                       "NumPy fills float16 and bfloat16 through float32 and a cast, bfloat16 "
                       "only with ml_dtypes)")  # fmt: skip
    bench.add_argument("--threads", type=_threads, default=None,
                       help="threads for fastkaiming and torch: a count, a negative number to "
                       "count back from the usable cores (-1: all), or auto (default: auto, the "
                       "usable cores: OMP_NUM_THREADS or the CPU affinity)")  # fmt: skip
    bench.add_argument("--repeat", type=_positive, default=5,
                       help="timed rounds per fill, after one warm-up call (default: 5)")
    bench.add_argument("--json", metavar="PATH", help="also write the results, every round included, as JSON")
    bench.add_argument(
        "--plot",
        metavar="PATH",
        help="also sweep sizes from 4KiB up to --size by factors of 4; save a PNG of GB/s "
        "(needs matplotlib)",
    )
    init = sub.add_parser(
        "init",
        help="write an initialized .npy tensor or .safetensors model, in bounded memory",
        description="Write OUT in chunks through a memory map, with a progress bar; OUT appears "
        "only when complete (Ctrl-C, SIGTERM and SIGHUP leave it as it was), keeps its "
        "permission bits, and a symbolic link is written through. "
        ".npy: one tensor (--shape); .safetensors: a model (--spec JSON: "
        '{"name": {"shape": [...], "dtype": "float16", "init": "kaiming_normal", ...}}; '
        'every entry uses --seed, "seed": null is an error).',
        epilog=_INIT_EPILOG,
    )
    init.set_defaults(parser=init)
    init.add_argument("out", metavar="OUT", help="the file to write: a path ending in .npy or .safetensors")
    init.add_argument("--shape", type=_shape,
                      help="the .npy tensor's shape, ints separated by commas or x: 65536,65536 or "
                      "65536x65536 (required for .npy)")  # fmt: skip
    init.add_argument("--spec", metavar="JSON",
                      help="model spec file (required for .safetensors): a JSON object of "
                      "tensor names to entries with shape, and optionally dtype, init and the "
                      "initializer's arguments")  # fmt: skip
    init.add_argument("--dtype", choices=["float32", "float64", "float16", "bfloat16"],
                      help="float32 (default), float64, float16 or bfloat16; for --spec, the "
                      "dtype of entries that name none; bfloat16 only in .safetensors (.npy has "
                      "no bfloat16)")  # fmt: skip
    init.add_argument("--init", default="kaiming_normal", metavar="NAME",
                      help=f"initializer, one of {', '.join(sorted(_bench.INITS))} (default: "
                      "kaiming_normal; for --spec, of entries that name none); zeros, ones and "
                      "constant (--param value=0.5) take no seed")  # fmt: skip
    init.add_argument("--nonlinearity", metavar="NAME",
                      help=f"for kaiming_*: one of {', '.join(_fans.NONLINEARITIES)} (the "
                      "initializer's default if not given: leaky_relu)")  # fmt: skip
    init.add_argument("--mode", metavar="MODE",
                      help=f"for kaiming_* and variance_scaling: {', '.join(_fans.MODES)} "
                      "(the initializer's default if not given)")  # fmt: skip
    init.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                      help="any other initializer argument, VALUE as JSON (e.g. std=0.02, a=2.236, "
                      "value=0.5); repeatable")  # fmt: skip
    init.add_argument("--seed", type=int, required=True,
                      help="the Philox key, an int in [0, 2**64) (required; the same seed writes the "
                      "same file)")  # fmt: skip
    init.add_argument("--stream", type=int, help="stream of a .npy tensor, an int in [0, 2**64) (default: 0)")
    init.add_argument("--chunk", type=_size, default=64 << 20,
                      help=f"bytes written at a time (bounds the memory used): {_SIZES} (default: "
                      "64MiB); the values do not depend on it")  # fmt: skip
    init.add_argument("--quiet", action="store_true", help="no progress bar (default: one on a terminal)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parser = args.parser
    if args.command == "init":
        return _init(parser, args)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("--plot needs matplotlib: pip install 'fastkaiming[plot]'")
    size = args.size or _bench.default_size()
    inits = tuple(dict.fromkeys(args.init or _bench.DEFAULT_INITS))  # in order, each once
    try:
        result = _bench.run(size, args.dtype, args.threads, args.repeat, inits=inits)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    print(_bench.format_table(result))
    if args.json:
        _bench.write_json(result, args.json)
    if args.plot:
        _bench.plot(_bench.sweep(size, args.dtype, args.threads, args.repeat, inits), args.plot)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
