"""Command line: `python -m fastkaiming bench` and `... init` (also the `fastkaiming` console script)."""
from __future__ import annotations

import argparse
import json
import signal
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastkaiming", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser(
        "bench",
        help="fill one large buffer with each initializer, next to NumPy, torch and memset",
        description="Time each --init on one prefaulted buffer (median of --repeat runs), with "
        "NumPy's equivalent where NumPy has the distribution, torch.nn.init's where torch has it "
        "(glorot_uniform: xavier_uniform_), and memset, all measured in this run.",
    )
    bench.add_argument("--init", nargs="+", action="extend", choices=list(_bench.CASES), metavar="NAME",
                       help=f"initializers to time, one or more of {', '.join(_bench.CASES)} "
                       f"(default: {' '.join(_bench.DEFAULT_INITS)})")  # fmt: skip
    bench.add_argument("--size", type=_size, default=None,
                       help="buffer size, e.g. 1GiB (default), 256MiB, 4KiB")  # fmt: skip
    bench.add_argument("--dtype", choices=list(_bench.DTYPES), default="float32")
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
        "only when complete (Ctrl-C, SIGTERM and SIGHUP leave it as it was, exit status 128 + the "
        "signal's number), keeps its permission bits, and a symbolic link is written through. "
        ".npy: one tensor (--shape); .safetensors: a model (--spec JSON: "
        '{"name": {"shape": [...], "dtype": "float16", "init": "kaiming_normal", ...}}; '
        'every entry uses --seed, "seed": null is an error).',
    )
    init.add_argument("out", metavar="OUT", help="a .npy or .safetensors path")
    init.add_argument("--shape", type=_shape, help="e.g. 65536,65536 or 65536x65536 (for .npy)")
    init.add_argument("--spec", metavar="JSON", help="model spec file (for .safetensors)")
    init.add_argument("--dtype", choices=["float32", "float64", "float16", "bfloat16"],
                      help="default float32; for --spec, the dtype of entries that name none; "
                      "bfloat16 only in .safetensors (.npy has no bfloat16)")  # fmt: skip
    init.add_argument("--init", default="kaiming_normal",
                      help="initializer (default kaiming_normal; for --spec, of entries that "
                      "name none); zeros, ones and constant (--param value=0.5) take no seed")  # fmt: skip
    init.add_argument("--nonlinearity", help="for kaiming_*: relu, leaky_relu, tanh, ...")
    init.add_argument("--mode", help="fan_in, fan_out or fan_avg")
    init.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                      help="any other initializer argument, VALUE as JSON (e.g. std=0.02)")  # fmt: skip
    init.add_argument("--seed", type=int, required=True)
    init.add_argument("--stream", type=int, help="stream of a .npy tensor (default 0)")
    init.add_argument("--chunk", type=_size, default=64 << 20, help="bytes per chunk (default 64MiB)")
    init.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    if args.command == "init":
        return _init(init, args)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
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
