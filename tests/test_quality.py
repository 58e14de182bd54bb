"""tools/quality.py prints what docs/QUALITY.md shows: the same tables, quantities and rounding."""
import importlib.util
import math
import pathlib
import re

import numpy as np
import pytest

import fastkaiming as fk

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOL, DOC = ROOT / "tools" / "quality.py", ROOT / "docs" / "QUALITY.md"
pytestmark = pytest.mark.skipif(not TOOL.exists(), reason="needs the source tree (tools/)")


@pytest.fixture(scope="module")
def quality():
    pytest.importorskip("scipy")
    spec = importlib.util.spec_from_file_location("quality", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_headers_are_the_documents(quality):
    doc = DOC.read_text().splitlines()
    row = {"case": "normal float32", "n": 10**9, "mean_se": 0.5, "var_se": -0.1, "chi2_p": None,
           "max_abs": 6.0, "limit": 6.6, "tails": [(1, 1.0)] * 5}  # fmt: skip
    lines = quality.markdown([row]).splitlines()
    for header in (lines[0], lines[4]):
        assert header in doc
    assert lines[2] == "| normal float32 | 10^9 | +0.50 | -0.10 | n/a (grid) | 6.0000 | 6.6000 |"


@pytest.mark.parametrize("case,var,kurtosis", [("uniform float32", 1 / 3, 9 / 5), ("normal float64", 1.0, 3.0)])
def test_variance_in_standard_errors(quality, case, var, kurtosis, isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("one kernel is enough")
    n = 1 << 16
    (row,) = quality.samples(n, [case])
    fill = fk.uniform_ if case.startswith("uniform") else fk.normal_
    args = (-1.0, 1.0) if case.startswith("uniform") else ()
    x = fill(np.empty(n, case.split()[-1]), *args, seed=1).astype(np.float64)
    sample_var = np.mean(x * x) - np.mean(x) ** 2
    # SE of the variance estimate: sqrt((mu4 - var^2) / n) = var * sqrt((kurtosis - 1) / n)
    assert row["var_se"] == pytest.approx((sample_var - var) / (var * math.sqrt((kurtosis - 1) / n)), abs=1e-6)
    assert row["mean_se"] == pytest.approx(np.mean(x) / math.sqrt(var / n), abs=1e-6)


def test_samples_md_starts_with_what_produced_it(quality, tmp_path, isa, capsys):
    """--md writes the run's provenance above the tables: the command, version, kernel, commit, day, CPU."""
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("one kernel is enough")
    out = tmp_path / "q.md"
    quality.main(["samples", "--n", "4096", "--case", "uniform float32", "--md", str(out)])
    lines = out.read_text().splitlines()
    assert lines[0].startswith(f"`python tools/quality.py samples --n 4096 --case 'uniform float32'` (seed 1): "
                               f"fastkaiming {fk.__version__} ({fk.runtime_info()['isa']} kernel), "
                               "tools/quality.py of commit ")  # fmt: skip
    assert re.search(r", 20\d\d-\d\d-\d\d, .+ \(\d+ CPUs\), \d+ s of CPU time\.$", lines[0]), lines[0]
    assert lines[1] == "" and lines[2].startswith("| case | n | mean, in SE |")
    assert lines[4].startswith("| uniform float32 | 4096 | ")
    assert capsys.readouterr().out.endswith(out.read_text())
