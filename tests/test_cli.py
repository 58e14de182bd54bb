"""The command line's main job: `python -m fastkaiming bench`."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastkaiming as fk
from fastkaiming import __main__ as cli
from fastkaiming import _bench


def test_bench_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(["bench", "--size", "1MiB", "--repeat", "2", "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "kaiming_normal" in text and "kaiming_uniform" in text and "x NumPy" in text and "memset" in text
    result = json.loads(out.read_text())
    assert result["dtype"] == "float32" and result["threads"] == 1 and result["repeat"] == 2
    assert result["inits"] == ["kaiming_normal", "kaiming_uniform"]  # the default
    assert [r["init"] for r in result["rows"]] == result["inits"]
    assert result["bytes"] <= 1 << 20 and result["shape"] == [512, 512]
    for row in result["rows"]:
        assert row["seconds"] > 0 and row["numpy_seconds"] > 0
        assert row["speedup_vs_numpy"] == pytest.approx(row["numpy_seconds"] / row["seconds"])


@pytest.mark.parametrize("dtype", ["float16", "float64", "bfloat16"])
def test_bench_dtypes(dtype, capsys):
    assert cli.main(["bench", "--size", "64KiB", "--repeat", "1", "--dtype", dtype]) == 0
    assert dtype in capsys.readouterr().out


THREADS_EXPECTED = "expected a nonzero int (a count, or negative to count back from the usable cores) or auto"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["bench", "--size", "lots"],
         "argument --size: size must look like 1GiB, 256MiB, 4KiB or a byte count, got 'lots'"),
        (["bench", "--repeat", "0"], "argument --repeat: expected an int >= 1, got '0'"),
        (["bench", "--repeat", "-3"], "argument --repeat: expected an int >= 1, got '-3'"),
        (["bench", "--repeat", "2.5"], "argument --repeat: expected an int >= 1, got '2.5'"),
        (["bench", "--threads", "0"], f"argument --threads: {THREADS_EXPECTED}, got '0'"),
        (["bench", "--threads=-0"], f"argument --threads: {THREADS_EXPECTED}, got '-0'"),
        (["bench", "--threads", "1.5"], f"argument --threads: {THREADS_EXPECTED}, got '1.5'"),
        (["bench", "--threads", "all"], f"argument --threads: {THREADS_EXPECTED}, got 'all'"),
        (["bench", "--dtype", "int8"], "argument --dtype: invalid choice: 'int8' (choose from "),
        (["bench", "--init", "gaussian"], "argument --init: invalid choice: 'gaussian' (choose from "),
        (["bench", "--init"], "argument --init: expected at least one argument"),
    ],
)  # fmt: skip
def test_bench_bad_arguments(argv, message, capsys):
    """argparse's words, in the subcommand's name, before anything is timed."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: fastkaiming bench [-h]")
    assert err[-1].startswith(f"fastkaiming bench: error: {message}"), err[-1]


@pytest.mark.parametrize("value,threads", [("1", 1), ("2", 2), ("-1", -1), ("-2", -2), ("auto", None)])
def test_bench_threads_values(value, threads):
    """Counts and negative counts go to the fills as they are (scikit-learn's convention)."""
    assert cli.build_parser().parse_args(["bench", f"--threads={value}"]).threads == threads


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"fastkaiming {fk.__version__}\n"


def _options(parser):
    """{subcommand: {option: action}} of the fastkaiming parser."""
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return {name: {a.option_strings[0] if a.option_strings else a.dest: a for a in p._actions}
            for name, p in sub.choices.items()}  # fmt: skip


def test_every_option_has_help_with_its_default_and_names():
    commands = _options(cli.build_parser())
    assert set(commands) == {"bench", "init"}
    for options in commands.values():
        for name, action in options.items():
            assert action.help and len(action.help) > 15, name
            if action.choices:
                assert all(str(c) in action.help for c in action.choices), name
            if action.default not in (None, False, [], "==SUPPRESS==") or name in ("--size", "--threads", "--dtype"):
                assert "default" in action.help, name
    bench, init = commands["bench"], commands["init"]
    assert "(default: 5)" in bench["--repeat"].help
    assert "(default: float32;" in bench["--dtype"].help
    assert "(default: auto, the usable cores" in bench["--threads"].help
    assert ", ".join(sorted(_bench.INITS)) in init["--init"].help
    assert "relu, leaky_relu, selu" in init["--nonlinearity"].help
    assert "fan_in, fan_out, fan_avg" in init["--mode"].help
    assert "4KiB, 256MiB, 1GiB, 1.5GB" in init["--chunk"].help and "(default: 64MiB)" in init["--chunk"].help
    assert "an int in [0, 2**64) (required" in init["--seed"].help


def test_help_epilogs_give_the_exit_status(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["init", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ("Exit status: 0 when OUT is written; 1 when the disk lacks room for it or another error of the file "
            "system stops the write (nothing is left behind); 2 for an argument error, one line per problem "
            "(nothing is written); 128 + N when stopped by signal N (130 for Ctrl-C, 143 for SIGTERM, 129 for "
            "SIGHUP): OUT is left as it was.") in text
    assert "--chunk CHUNK bytes written at a time (bounds the memory used): a byte count or a size" in text
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    assert "Exit status: 0 when every fill was timed, 2 for an argument error." in capsys.readouterr().out


def test_main_parses_with_build_parser(monkeypatch, capsys):
    """main() parses with build_parser(), the parser the docs' CLI page shows."""
    built = []
    original = cli.build_parser

    def spy():
        built.append(original())
        return built[-1]

    monkeypatch.setattr(cli, "build_parser", spy)
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert len(built) == 1 and built[0].prog == "fastkaiming"


@pytest.mark.skipif(not (pathlib.Path(__file__).resolve().parents[1] / "docs" / "_ext").exists(),
                    reason="needs the source tree (docs/_ext)")  # fmt: skip
def test_docs_cli_page_parser(monkeypatch):
    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).resolve().parents[1] / "docs" / "_ext"))
    import cli_parser

    parser = cli_parser.parser()
    options = _options(parser)
    assert set(options["bench"]) == set(_options(cli.build_parser())["bench"])
    assert r"(glorot_uniform: xavier_uniform\_;" in parser._subparsers._group_actions[0].choices["bench"].description
    assert options["init"]["--seed"].help.startswith("the Philox key")


@pytest.mark.parametrize("text,size", [("1GiB", 1 << 30), ("256MiB", 256 << 20), ("4096", 4096), ("1.5KB", 1500)])
def test_parse_size(text, size):
    assert _bench.parse_size(text) == size


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "fastkaiming", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "bench" in proc.stdout


def test_bench_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep.png"
    assert cli.main(["bench", "--size", "64KiB", "--repeat", "1", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot written to {out}" in capsys.readouterr().out


def test_bench_plot_without_matplotlib(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--size", "64KiB", "--plot", str(tmp_path / "p.png")])
    assert exc.value.code == 2
    assert "--plot needs matplotlib: pip install 'fastkaiming[plot]'" in capsys.readouterr().err


def test_bench_reports_torch_when_installed(capsys):
    torch = pytest.importorskip("torch")
    result = _bench.run(64 << 10, "float32", 1, 1)
    assert result["torch"] == torch.__version__
    assert all(r["speedup_vs_torch"] > 0 for r in result["rows"])


# -- fastkaiming init: the whole spec checked before any file exists, a line per problem -------

# The cases (test_files.py checks every kind of entry problem through the API)
SPEC_TEXT = """{
  "no_shape": {"init": "normal"},
  "listed_dtype": {"shape": [2], "dtype": ["float32"]},
  "twice": {"shape": [2, 2]},
  "bad_argument": {"shape": [8], "init": "trunc_normal", "std": 0.1, "a": 1, "b": -1},
  "twice": {"shape": [3, 3]},
  "huge": {"shape": [4294967296, 4294967296]},
  "fine": {"shape": [2, 2]}
}"""
SPEC_LINES = [
    "spec file {spec}: 'twice' appears twice in one object",
    "spec['no_shape']: missing 'shape' (a list of ints)",
    "spec['listed_dtype']: dtype must be one of float16, bfloat16, float32, float64, got ['float32']",
    "spec['bad_argument']: trunc_normal_ expects a < b, got a=1.0, b=-1.0",
    "spec['huge']: shape (4294967296, 4294967296) has 18446744073709551616 elements, more than 2**62",
]


def _problems(err):
    assert "Traceback" not in err
    return [line.removeprefix("fastkaiming init: error: ") for line in err.splitlines()
            if line.startswith("fastkaiming init: error: ")]  # fmt: skip


def test_init_reports_every_spec_problem_and_writes_nothing(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(SPEC_TEXT)
    out = tmp_path / "m.safetensors"
    assert cli.main(["init", str(out), "--spec", str(spec), "--seed", "0"]) == 2
    problems = _problems(capsys.readouterr().err)
    assert len(problems) == len(SPEC_LINES)
    for line, start in zip(problems, SPEC_LINES, strict=True):
        assert line.startswith(start.format(spec=spec)), (line, start)
    assert os.listdir(tmp_path) == ["spec.json"]


@pytest.mark.parametrize(
    "text,line",
    [('["w", "v"]', "spec must be a mapping of tensor names to entries ("),
     ('"w"', "spec must be a mapping of tensor names to entries ("),
     ('{"w": {"shape": [2]', "is not valid JSON: Expecting ',' delimiter: line 1 column 20 (char 19)"),
     (None, "cannot read spec file")],
)  # fmt: skip
def test_init_spec_file_problems(tmp_path, capsys, text, line):
    spec = tmp_path / "spec.json"
    if text is not None:
        spec.write_text(text)
    assert cli.main(["init", str(tmp_path / "m.safetensors"), "--spec", str(spec), "--seed", "0"]) == 2
    problems = _problems(capsys.readouterr().err)
    assert len(problems) == 1 and line in problems[0]
    assert sorted(os.listdir(tmp_path)) == ([] if text is None else ["spec.json"])


@pytest.mark.parametrize(
    "args,lines",
    [(["w.npy", "--shape", "4294967296x4294967296"],
      ["shape (4294967296, 4294967296) has 18446744073709551616 elements, more than 2**62"]),
     (["w.npy", "--shape=4,-4"], ["shape must not have negative dimensions, got (4, -4)"]),
     (["w.npy", "--shape", "4,4", "--dtype", "bfloat16"],
      ["dtype must be one of float16, float32, float64 for .npy files (.npy has no bfloat16: write a "
       ".safetensors file), got 'bfloat16'"]),
     (["w.npy", "--shape", "4,4", "--init", "gaussian"], ["init must be one of constant, glorot_normal, "]),
     (["w.npy", "--shape", "4,4", "--init", "normal", "--mode", "fan_out"],
      ["normal takes no argument 'mode'; it takes mean, std, seed, stream, offset, threads"]),
     (["w.npy", "--shape", "4,4", "--param", "std", "--param", "mode=fan_in", "--mode", "fan_out"],
      ["--param takes KEY=VALUE, got 'std'", "mode is given twice (--param mode=..., --mode)"]),
     (["w.npy", "--spec", "s.json"], ["a .npy file needs --shape, e.g. --shape 4096,1024",
                                      "--spec is for a .safetensors file; a .npy file holds one tensor (--shape)"]),
     (["m.safetensors", "--shape", "4", "--stream", "3"],
      ["a .safetensors file needs --spec (a JSON file of the tensors)",
       "--shape is for a .npy file; a .safetensors file takes its shapes from --spec",
       "--stream, --nonlinearity, --mode and --param are for a .npy file; give a .safetensors tensor's "
       "arguments in its spec entry"]),
     (["w.bin", "--shape", "4"], ["OUT must end in .npy or .safetensors, got "])],
)  # fmt: skip
def test_init_argument_problems(tmp_path, capsys, monkeypatch, args, lines):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", *args, "--seed", "0"]) == 2
    problems = _problems(capsys.readouterr().err)
    assert len(problems) == len(lines)
    for problem, line in zip(problems, lines, strict=True):
        assert problem.startswith(line), (problem, line)
    assert os.listdir(tmp_path) == []


def test_init_without_room_exits_1_with_the_sizes(tmp_path, capsys):
    free = shutil.disk_usage(tmp_path).free
    if free >= 4 << 40:
        pytest.skip("this disk has 4 TiB free")
    out = tmp_path / "big.npy"
    assert cli.main(["init", str(out), "--shape", "1048576,1048576", "--init", "normal", "--seed", "0"]) == 1
    err = capsys.readouterr().err
    assert f"fastkaiming init: error: [Errno 28] not enough space for big.npy: it needs 4398046511232 bytes (4.0 TiB), {tmp_path} has " in err
    assert "usage:" not in err and os.listdir(tmp_path) == []


def test_init_bfloat16_safetensors(tmp_path, capsys):
    """--dtype and --init are the defaults of the spec's entries."""
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch = pytest.importorskip("torch")
    from fastkaiming._blocks import stream_for

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"w": {"shape": [16, 8]}, "b": {"shape": [16], "dtype": "float32", "init": "normal"}}))
    out = tmp_path / "m.safetensors"
    assert cli.main(["init", str(out), "--spec", str(spec), "--dtype", "bfloat16", "--init", "trunc_normal",
                     "--seed", "3", "--quiet"]) == 0  # fmt: skip
    loaded = safetensors_torch.load_file(str(out))
    ref = torch.empty(16, 8, dtype=torch.bfloat16)
    fk.trunc_normal_(ref, seed=3, stream=stream_for("w"))
    assert torch.equal(loaded["w"], ref)
    assert loaded["b"].dtype == torch.float32


def test_init_entry_point_exit_status(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fastkaiming", "init", str(tmp_path / "w.npy"), "--shape=4,-4",
                           "--seed", "0"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "fastkaiming init: error: shape must not have negative dimensions, got (4, -4)"
    )


# -- fastkaiming bench --init: every fill people run, with NumPy's and torch's where they have it ---

# init -> (NumPy has the distribution, torch.nn.init's fill of it)
BENCH_COLUMNS = {
    "kaiming_normal": (True, "kaiming_normal_"),
    "kaiming_uniform": (True, "kaiming_uniform_"),
    "trunc_normal": (False, "trunc_normal_"),
    "he_normal": (False, None),
    "glorot_uniform": (True, "xavier_uniform_"),
    "xavier_normal": (True, "xavier_normal_"),
    "normal": (True, "normal_"),
    "uniform": (True, "uniform_"),
}


def test_bench_every_init(tmp_path, capsys):
    out = tmp_path / "r.json"
    names = list(BENCH_COLUMNS)
    assert cli.main(["bench", "--size", "16KiB", "--repeat", "1", "--threads", "1", "--init", *names[:3],
                     "--init", *names[3:], "--json", str(out)]) == 0  # fmt: skip
    table = capsys.readouterr().out.splitlines()
    result = json.loads(out.read_text())
    assert result["inits"] == names and [r["init"] for r in result["rows"]] == names
    for row in result["rows"]:
        has_numpy, torch_fill = BENCH_COLUMNS[row["init"]]
        assert (row["numpy_seconds"] is not None) == has_numpy
        assert (row["speedup_vs_numpy"] is not None) == has_numpy
        line = next(t for t in table if t.startswith(row["init"] + " "))
        assert (line.split()[6] == "-") == (not has_numpy)  # name, time, unit, [min-max], GB/s, G samples/s, NumPy
        if result["torch"] is not None:
            assert row["torch_fill"] == torch_fill
            assert (row["torch_seconds"] is not None) == (torch_fill is not None)


def test_bench_init_names_once_in_order(capsys, tmp_path):
    out = tmp_path / "r.json"
    assert cli.main(["bench", "--size", "4KiB", "--repeat", "1", "--init", "uniform", "normal", "uniform",
                     "--json", str(out)]) == 0  # fmt: skip
    assert json.loads(out.read_text())["inits"] == ["uniform", "normal"]


@pytest.mark.parametrize("init", list(BENCH_COLUMNS))
def test_bench_numpy_baseline_has_the_distribution(init):
    """The NumPy column times the same distribution as the fill it is compared with."""
    import numpy as np


    case = _bench.CASES[init]
    if case.numpy is None:
        return
    n = 256
    buf = np.empty((n, n), np.float64)
    _bench._numpy_fill(buf, "float64", np.random.default_rng(0), case.numpy(n))()
    ref = getattr(fk, init)((n, n), "float64", seed=0)
    assert abs(buf.mean() - ref.mean()) < 6 * ref.std() / n  # same mean, within 6 SE
    assert buf.std() == pytest.approx(ref.std(), rel=0.05)  # 65536 samples: SE of std ~0.3 %
    assert (buf.min() >= ref.min() - 4 * ref.std()) and (buf.max() <= ref.max() + 4 * ref.std())


def test_bench_bfloat16_torch_column(capsys):
    torch = pytest.importorskip("torch")
    result = _bench.run(16 << 10, "bfloat16", 1, 1, inits=("trunc_normal", "xavier_normal"))
    assert result["dtype"] == "bfloat16" and result["torch"] == torch.__version__
    assert all(r["speedup_vs_torch"] > 0 for r in result["rows"])
    assert result["rows"][0]["numpy_seconds"] is None  # NumPy has no truncated normal


def test_bench_run_rejects_unknown_inits():
    with pytest.raises(ValueError, match=r"^inits must name some of kaiming_normal, .*, got \['gaussian'\]$"):
        _bench.run(4096, "float32", 1, 1, inits=("gaussian",))
    with pytest.raises(ValueError, match=r"^dtype must be one of float32, float64, float16, bfloat16, got 'int8'$"):
        _bench.run(4096, "int8", 1, 1)


def test_init_interrupted(tmp_path, capsys, monkeypatch):
    from fastkaiming import _files

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_files, "_fill_tensor", interrupted)
    out = tmp_path / "w.npy"
    assert cli.main(["init", str(out), "--shape", "64,64", "--seed", "0"]) == 130
    assert f"fastkaiming init: error: interrupted by SIGINT: {out} was not written (nor changed)" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_init_missing_folder_exits_1(tmp_path, capsys):
    out = tmp_path / "nowhere" / "w.npy"
    assert cli.main(["init", str(out), "--shape", "4,4", "--seed", "0"]) == 1
    assert "No such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize("shape", [",", "4,,4", "4,", "", "4x", "4.5,2"])
def test_init_shape_with_an_empty_or_bad_entry_is_an_error(tmp_path, capsys, shape):
    """`--shape ,` used to write a scalar and `4,,4` a (4, 4) tensor."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["init", str(tmp_path / "w.npy"), f"--shape={shape}", "--seed", "0"])
    assert exit_.value.code == 2
    assert _problems(capsys.readouterr().err) == [
        f"argument --shape: shape must be ints separated by commas or x, e.g. 1024,4096, got {shape!r}"
    ]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("shape,dims", [("4,4", (4, 4)), ("3x2x5", (3, 2, 5)), (" 7 , 2 ", (7, 2)), ("6", (6,))])
def test_init_shape_forms(tmp_path, capsys, shape, dims):
    out = tmp_path / "w.npy"
    assert cli.main(["init", str(out), f"--shape={shape}", "--init", "normal", "--seed", "0", "--quiet"]) == 0
    assert np.load(out).shape == dims


def test_init_spec_seed_null_is_refused(tmp_path, capsys):
    """--seed is required: a spec entry's "seed": null must not draw one from the OS."""
    spec = tmp_path / "spec.json"
    spec.write_text('{"w": {"shape": [4, 4], "seed": null}, "b": {"shape": [4], "init": "zeros", "seed": null}}')
    assert cli.main(["init", str(tmp_path / "m.safetensors"), "--spec", str(spec), "--seed", "0"]) == 2
    assert _problems(capsys.readouterr().err) == [
        "spec['w']: seed must be an int in [0, 2**64), got None (leave 'seed' out to use the file's seed)",
        "spec['b']: zeros takes no argument 'seed'; it takes none",
    ]
    assert os.listdir(tmp_path) == ["spec.json"]


def test_init_constants_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "b.npy"
    assert cli.main(["init", str(out), "--shape", "3,2", "--init", "constant", "--param", "value=-0.5",
                     "--dtype", "float16", "--seed", "0", "--quiet"]) == 0  # fmt: skip
    got = np.load(out)
    assert got.dtype == np.float16 and (got == -0.5).all()


# -- bench output: each time with its spread, a note when the thread counts differ ---------------

def _timed(name, rounds):
    return {name: sorted(rounds)[len(rounds) // 2], f"{name}_min": min(rounds), f"{name}_max": max(rounds),
            f"{name}_rounds": rounds}  # fmt: skip


def _result(threads, torch=None):
    """A bench result as run() returns it, with made-up times (no timing in a unit test)."""
    row = {"init": "kaiming_normal", "fill": "kaiming_normal", **_timed("seconds", [0.0125, 0.0121, 0.0130]),
           "GB_per_s": 0.3355, "Gsamples_per_s": 0.0839, **_timed("numpy_seconds", [0.1043, 0.0998, 0.1101]),
           "speedup_vs_numpy": 0.1043 / 0.0125, "fraction_of_memset": 0.0013 / 0.0125}  # fmt: skip
    trunc = {"init": "trunc_normal", "fill": "trunc_normal", **_timed("seconds", [0.000910, 0.000905, 0.00125]),
             "GB_per_s": 4.609, "Gsamples_per_s": 1.152, "numpy_seconds": None, "numpy_seconds_min": None,
             "numpy_seconds_max": None, "numpy_seconds_rounds": None, "speedup_vs_numpy": None,
             "fraction_of_memset": 0.0013 / 0.000910}  # fmt: skip
    if torch:
        row.update(torch_fill="kaiming_normal_", **_timed("torch_seconds", [0.0250, 0.0245, 0.0262]),
                   speedup_vs_torch=0.0250 / 0.0125)  # fmt: skip
        trunc.update(torch_fill="trunc_normal_", **_timed("torch_seconds", [0.0031, 0.0030, 0.0033]),
                     speedup_vs_torch=0.0031 / 0.000910)  # fmt: skip
    return {"fastkaiming": "0.2.0", "isa": "avx2", "bytes": 4 << 20, "dtype": "float32", "shape": [1024, 1024],
            "threads": threads, "repeat": 3, "processor": "Some CPU", "torch": torch,
            **_timed("memset_seconds", [0.0013, 0.0012, 0.0019]), "memset_GB_per_s": 3.226,
            "note": _bench.threads_note(threads, torch is not None), "rows": [row, trunc]}  # fmt: skip


def test_bench_table_shows_the_spread():
    assert _bench.format_table(_result(1)).splitlines() == [
        "fastkaiming 0.2.0 (avx2) | 4.00 MiB float32 (1024, 1024) | threads=1 | median [min-max] of 3 rounds | Some CPU",
        "memset (ndarray.fill): 1.30 ms [1.20-1.90], 3.23 GB/s",
        "",
        "fill                     time [min-max]    GB/s  G samples/s         NumPy [min-max]  x NumPy  x memset",
        "-------------------------------------------------------------------------------------------------------",
        "kaiming_normal      12.5 ms [12.1-13.0]    0.34        0.084        104 ms [100-110]     8.34      0.10",
        "trunc_normal          910 us [905-1250]    4.61        1.152                       -        -      1.43",
    ]


def test_bench_table_notes_threads_other_than_numpys():
    lines = _bench.format_table(_result(4, torch="2.13.0+cpu")).splitlines()
    assert lines[1] == "memset (ndarray.fill): 1.30 ms [1.20-1.90], 3.23 GB/s | torch 2.13.0+cpu, same threads"
    assert lines[2] == ("note: fastkaiming and torch run on 4 threads, NumPy's Generator on one: x NumPy compares "
                        "4 threads with one (--threads 1 compares one with one)")
    assert lines[4].endswith("  x memset         torch [min-max]  x torch")
    assert lines[6].endswith("      0.10     25.0 ms [24.5-26.2]     2.00")
    assert lines[7].endswith("      1.43     3.10 ms [3.00-3.30]     3.41")
    assert _bench.threads_note(2, False).startswith("note: fastkaiming runs on 2 threads, NumPy's Generator on one")
    assert _bench.threads_note(1, True) is None


@pytest.mark.parametrize("threads", [1, 2])
def test_bench_run_records_every_round_and_the_note(threads, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(["bench", "--size", "16KiB", "--repeat", "3", "--threads", str(threads), "--init", "normal",
                     "--json", str(out)]) == 0  # fmt: skip
    result = json.loads(out.read_text())
    assert result["threads"] == threads and result["numpy_threads"] == 1
    note = _bench.threads_note(threads, result["torch"] is not None)
    assert result["note"] == note and (note in capsys.readouterr().out if note else note is None)
    (row,) = result["rows"]
    for name in ("seconds", "numpy_seconds"):
        rounds = row[f"{name}_rounds"]
        assert len(rounds) == 3 and row[f"{name}_min"] == min(rounds) and row[f"{name}_max"] == max(rounds)
        assert row[name] == sorted(rounds)[1]  # the median of 3
    assert len(result["memset_seconds_rounds"]) == 3
