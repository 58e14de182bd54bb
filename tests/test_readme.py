"""The README's Python examples run and say what they claim."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
pytestmark = pytest.mark.skipif(not README.exists(), reason="needs the source tree")


def blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(blocks()) >= 2


@pytest.mark.parametrize("index", range(len(blocks()) if README.exists() else 0))
def test_readme_example(index, tmp_path, monkeypatch):
    block = blocks()[index]
    if "import torch" in block:
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    if index > 0:  # later blocks continue the first one's imports
        exec(compile(blocks()[0].split("\n\n")[0], "README-imports", "exec"), namespace)
    exec(compile(block, f"README-block-{index}", "exec"), namespace)
