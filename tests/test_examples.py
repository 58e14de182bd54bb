"""The paper's result (He et al. 2015, eq. 10) through examples/forward_pass.py."""
import importlib.util
import pathlib

import pytest

import fastkaiming as fk

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "forward_pass.py"
pytestmark = pytest.mark.skipif(not EXAMPLE.exists(), reason="needs the source tree (examples/)")


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("forward_pass", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("init,predicted", [("He (kaiming_normal_)", 1.0), ("Xavier (xavier_normal_)", 0.5),
                                            ("N(0, 0.01^2)", 0.0512)])  # fmt: skip
def test_second_moment_ratio_per_layer(example, init, predicted, isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("a statistical check: one kernel is enough (all give the same bits)")
    # one network's per-layer ratio fluctuates by ~6 % at width 1024: average 3 networks' layers
    assert example.mean_ratio(init, range(3)) == pytest.approx(predicted, rel=0.03)


TRAIN = EXAMPLE.parent / "train_digits.py"


def test_he_trains_where_xavier_stalls(isa):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("one kernel is enough")
    spec = importlib.util.spec_from_file_location("train_digits", TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    he, xavier = module.train("he", epochs=10), module.train("xavier", epochs=10)
    assert he[-1] < 1.0 < 2.2 < xavier[-1]  # ln(10) = 2.303 is a network that learned nothing
