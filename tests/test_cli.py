"""The command line's main job: `python -m fastkaiming bench`."""
import json
import subprocess
import sys

import pytest

from fastkaiming import __main__ as cli
from fastkaiming import _bench


def test_bench_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(["bench", "--size", "1MiB", "--repeat", "2", "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "He normal" in text and "He uniform" in text and "x NumPy" in text and "memset" in text
    result = json.loads(out.read_text())
    assert result["dtype"] == "float32" and result["threads"] == 1 and result["repeat"] == 2
    assert result["bytes"] <= 1 << 20 and result["shape"] == [512, 512]
    for row in result["rows"]:
        assert row["seconds"] > 0 and row["numpy_seconds"] > 0
        assert row["speedup_vs_numpy"] == pytest.approx(row["numpy_seconds"] / row["seconds"])


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_bench_dtypes(dtype, capsys):
    assert cli.main(["bench", "--size", "64KiB", "--repeat", "1", "--dtype", dtype]) == 0
    assert dtype in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["bench", "--size", "lots"], "size must look like 1GiB"),
        (["bench", "--repeat", "0"], "--repeat must be >= 1"),
        (["bench", "--threads", "0"], "threads must be a nonzero int"),
        (["bench", "--dtype", "int8"], "invalid choice"),
    ],
)
def test_bench_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


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
