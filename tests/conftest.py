"""Every test runs once per kernel (ISA path) this CPU and build can run."""
import pytest

import fastkaiming._api
from fastkaiming import _core

ISAS = sorted(_core.isa_names().items(), key=lambda kv: kv[1])


@pytest.fixture(autouse=True, params=[code for _, code in ISAS], ids=[name for name, _ in ISAS])
def isa(request, monkeypatch):
    """The kernel every fill in the test uses."""
    monkeypatch.setattr(fastkaiming._api, "_ISA", request.param)
    return request.param
