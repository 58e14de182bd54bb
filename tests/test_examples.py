"""The paper's result (He et al. 2015, eq. 10) through examples/forward_pass.py."""
import importlib.util
import pathlib
import sys

import pytest

import fastkaiming as fk

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "forward_pass.py"
pytestmark = pytest.mark.skipif(not EXAMPLE.exists(), reason="needs the source tree (examples/)")


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return load(EXAMPLE)


@pytest.mark.parametrize("init,predicted", [("He (kaiming_normal_)", 1.0), ("Xavier (xavier_normal_)", 0.5),
                                            ("N(0, 0.01^2)", 0.0512)])  # fmt: skip
def test_second_moment_ratio_per_layer(example, init, predicted, isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("a statistical check: one kernel is enough (all give the same bits)")
    # one network's per-layer ratio fluctuates by ~6 % at width 1024: average 3 networks' layers
    assert example.mean_ratio(init, range(3)) == pytest.approx(predicted, rel=0.03)


TRAIN = EXAMPLE.parent / "train_digits.py"


@pytest.fixture(scope="module")
def train_digits():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    return load(TRAIN)


@pytest.mark.parametrize("name", ["forward_pass", "train_digits"])
def test_plot_is_optional(name, request, tmp_path, monkeypatch, capsys):
    module = request.getfixturevalue("example" if name == "forward_pass" else name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    args = () if name == "forward_pass" else ({"He": [2.3, 0.1]},)
    module.plot(*args, str(tmp_path / "plot.png"))
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "plot.png").exists()


def test_he_trains_where_xavier_stalls(train_digits, isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("one kernel is enough")
    he, xavier = train_digits.train("he", epochs=10), train_digits.train("xavier", epochs=10)
    # ln(10) = 2.303 is a network that learned nothing. Measured after 10 epochs (seed 0, torch
    # 2.13.0, 2-core AMD EPYC): He 0.402, Xavier 2.3027. The losses depend on torch's CPU kernels
    # (summation order), so the bounds leave room: He must have learned (below 1.0, 2.5x the
    # measured loss), Xavier must still be within 0.1 of chance.
    assert he[-1] < 1.0 < 2.2 < xavier[-1]


@pytest.mark.parametrize("name", ["forward_pass", "train_digits"])
def test_plot_goes_next_to_the_script_by_default(name, request):
    module = request.getfixturevalue("example" if name == "forward_pass" else name)
    path = module.png_path([]) if name == "forward_pass" else module.arguments([])[0]
    assert path == EXAMPLE.parent / f"{name}.png"  # examples/, never docs/ (tracked files)


@pytest.mark.parametrize("name", ["forward_pass", "train_digits"])
def test_out_folder(name, request, tmp_path):
    module = request.getfixturevalue("example" if name == "forward_pass" else name)
    path = module.png_path(["--out", str(tmp_path)]) if name == "forward_pass" else \
        module.arguments(["--out", str(tmp_path), "--seed", "3"])
    expected = tmp_path / f"{name}.png"
    assert path == (expected if name == "forward_pass" else (expected, 3))


@pytest.mark.parametrize("name", ["forward_pass", "train_digits"])
def test_missing_out_folder_fails_before_the_work(name, request, tmp_path, monkeypatch, capsys):
    module = request.getfixturevalue("example" if name == "forward_pass" else name)
    work = "mean_ratio" if name == "forward_pass" else "train"
    monkeypatch.setattr(module, work, lambda *a, **k: pytest.fail("the work started before the check"))
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--out", str(tmp_path / "missing")])
    assert exit_info.value.code == 2
    assert "is not an existing folder" in capsys.readouterr().err
