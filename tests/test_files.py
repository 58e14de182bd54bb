"""Out-of-core files: .npy and .safetensors written in chunks equal the in-memory fills."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastkaiming as fk
from fastkaiming import __main__ as cli
from fastkaiming import _files
from fastkaiming._blocks import stream_for


@pytest.mark.parametrize(
    "shape,dtype,init,kwargs",
    [((300, 200), "float32", "kaiming_normal", {"nonlinearity": "relu"}),
     ((64, 3, 5, 7), "float16", "kaiming_uniform", {"mode": "fan_out"}),
     ((10_000,), "float64", "trunc_normal", {"std": 0.02, "a": -0.04, "b": 0.04}),
     ((33, 17), "float32", "he_normal", {}),
     ((5, 4), "float32", "normal", {"mean": 1.0, "std": 3.0})],
)  # fmt: skip
@pytest.mark.parametrize("chunk", [100, 4096, 1 << 20])
def test_npy_equals_the_in_memory_fill(tmp_path, shape, dtype, init, kwargs, chunk):
    out = tmp_path / "w.npy"
    assert fk.init_file(out, shape, init=init, dtype=dtype, seed=3, stream=2, chunk_bytes=chunk, **kwargs) == out
    got = np.load(out)
    ref = getattr(fk, init)(shape, dtype, seed=3, stream=2, **kwargs)
    assert got.shape == shape and got.dtype == dtype
    np.testing.assert_array_equal(got, ref)
    assert os.listdir(tmp_path) == ["w.npy"]


SPEC = {
    "embed.weight": {"shape": [100, 16], "dtype": "float32", "init": "normal"},
    "blocks.0.linear.weight": {"shape": [32, 16], "dtype": "bfloat16", "init": "kaiming_uniform", "a": 5**0.5},
    "blocks.0.linear.bias": {"shape": [32], "dtype": "float16", "init": "uniform", "a": -0.25, "b": 0.25},
    "head.weight": {"shape": [8, 32], "dtype": "float64", "init": "trunc_normal", "std": 0.02},
}


def test_safetensors_model_loads_with_safetensors_and_torch(tmp_path):
    pytest.importorskip("safetensors")
    torch = pytest.importorskip("torch")
    out = tmp_path / "model.safetensors"
    fk.init_file(out, spec=SPEC, seed=9, chunk_bytes=256)
    from safetensors.torch import load_file

    loaded = load_file(str(out))
    assert sorted(loaded) == sorted(SPEC)
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}
    for name, entry in SPEC.items():
        kwargs = {k: v for k, v in entry.items() if k not in ("shape", "dtype", "init")}
        ref = torch.empty(entry["shape"], dtype=dtypes[entry["dtype"]])
        getattr(fk, entry["init"] + "_")(ref, seed=9, stream=stream_for(name), **kwargs)
        assert torch.equal(loaded[name], ref), name


def test_safetensors_loads_with_numpy(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    spec = {k: v for k, v in SPEC.items() if v["dtype"] != "bfloat16"}  # NumPy has no bfloat16
    fk.init_safetensors(tmp_path / "m.safetensors", spec, seed=9)
    loaded = safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))
    for name, entry in spec.items():
        kwargs = {k: v for k, v in entry.items() if k not in ("shape", "dtype", "init")}
        ref = getattr(fk, entry["init"])(entry["shape"], entry["dtype"], seed=9, stream=stream_for(name), **kwargs)
        np.testing.assert_array_equal(loaded[name], ref)


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    out = tmp_path / "w.npy"
    out.write_bytes(b"old contents")
    calls = []
    real = _files.INITS["kaiming_normal"]

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setitem(_files.INITS, "kaiming_normal", flaky)
    with pytest.raises(KeyboardInterrupt):
        fk.init_file(out, (256, 256), seed=0, chunk_bytes=4096)
    assert out.read_bytes() == b"old contents"  # the old file is untouched
    assert os.listdir(tmp_path) == ["w.npy"]  # and no temporary file is left


@pytest.mark.parametrize(
    "kwargs,message",
    [({"shape": (4, 4), "init": "gaussian"}, "^init must be one of"),
     ({"shape": (4, 4), "dtype": "bfloat16"}, "^dtype must be one of float16, float32, float64 for .npy files"),
     ({"shape": (4, 4), "chunk_bytes": 0}, "^chunk_bytes must be a positive int, got 0$"),
     ({"shape": (4, -4)}, "negative dimensions"),
     ({"spec": SPEC}, r"^a .npy file takes shape= \(one tensor\), not spec=$")],
)  # fmt: skip
def test_errors_write_nothing(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fk.init_file(tmp_path / "w.npy", seed=0, **kwargs)
    assert os.listdir(tmp_path) == []


def test_suffix_and_spec_errors(tmp_path):
    with pytest.raises(ValueError, match=r"^path must end in .npy or .safetensors, got 'w.bin'$"):
        fk.init_file(tmp_path / "w.bin", (4,), seed=0)
    with pytest.raises(ValueError, match="takes spec="):
        fk.init_file(tmp_path / "m.safetensors", (4,), seed=0)
    with pytest.raises(ValueError, match=r"^spec\['x'\]: dtype must be one of float16, bfloat16, float32, float64, got 'int8'$"):
        fk.init_safetensors(tmp_path / "m.safetensors", {"x": {"shape": [2], "dtype": "int8"}}, seed=0)
    assert os.listdir(tmp_path) == []


def test_progress_bar(tmp_path, capsys):
    fk.init_file(tmp_path / "a.npy", (512, 512), seed=0, chunk_bytes=1 << 16, quiet=False)
    err = capsys.readouterr().err
    assert "a.npy" in err and "100%" in err
    fk.init_file(tmp_path / "b.npy", (512, 512), seed=0, chunk_bytes=1 << 16)  # not a terminal
    assert capsys.readouterr().err == ""


def test_cli_init(tmp_path, capsys):
    out = tmp_path / "w.npy"
    assert cli.main(["init", str(out), "--shape", "128,64", "--dtype", "float16", "--init", "kaiming_normal",
                     "--nonlinearity", "relu", "--seed", "0", "--stream", "4", "--quiet"]) == 0  # fmt: skip
    np.testing.assert_array_equal(np.load(out), fk.kaiming_normal((128, 64), "float16", nonlinearity="relu", seed=0, stream=4))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"w": {"shape": [4, 4], "init": "trunc_normal", "std": 0.5}}))
    assert cli.main(["init", str(tmp_path / "m.safetensors"), "--spec", str(spec), "--seed", "1", "--quiet"]) == 0
    assert cli.main(["init", str(tmp_path / "t.npy"), "--shape", "8", "--init", "trunc_normal",
                     "--param", "std=0.1", "--param", "a=-0.2", "--param", "b=0.2", "--seed", "2", "--quiet"]) == 0  # fmt: skip
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), fk.trunc_normal(8, std=0.1, a=-0.2, b=0.2, seed=2))
    with pytest.raises(SystemExit):
        cli.main(["init", str(tmp_path / "x.npy"), "--seed", "0"])
    assert "takes shape=" in capsys.readouterr().err


RSS_PROBE = """
import resource, sys
import fastkaiming as fk
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fk.init_file(sys.argv[1], (16384, 16384), seed=0, chunk_bytes=16 << 20)  # 1 GiB
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_memory_stays_bounded_by_the_chunk(tmp_path):
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE, str(tmp_path / "big.npy")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) < 128 << 20  # for a 1 GiB file in 16 MiB chunks
    assert (tmp_path / "big.npy").stat().st_size > 1 << 30
