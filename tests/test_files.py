"""Out-of-core files: .npy and .safetensors written in chunks equal the in-memory fills."""
import errno
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
import warnings

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
     ((5, 4), "float32", "normal", {"mean": 1.0, "std": 3.0}),
     ((3, 5, 7), "float64", "uniform", {"a": -1.0, "b": 2.0}),
     ((), "float32", "normal", {}),
     ((0, 5), "float32", "kaiming_normal", {})],
)  # fmt: skip
@pytest.mark.parametrize("chunk", [100, 4096, 1 << 20])
def test_npy_equals_the_in_memory_fill(tmp_path, shape, dtype, init, kwargs, chunk):
    out = tmp_path / "w.npy"
    assert fk.init_file(out, shape, init=init, dtype=dtype, seed=3, stream=2, chunk_bytes=chunk, **kwargs) == out
    got = np.load(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-element fills warn
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
     ({"shape": (4, 4), "dtype": "bfloat16"}, r"^dtype must be one of float16, float32, float64 for .npy files \(.npy has no bfloat16: write a .safetensors file\), got 'bfloat16'$"),
     ({"shape": (4, 4), "dtype": ["float32"]}, None),
     ({"shape": (2**32, 2**32)}, r"^shape \(4294967296, 4294967296\) has 18446744073709551616 elements, more than 2\*\*62$"),
     ({"shape": (4, 4), "init": "trunc_normal", "std": -1}, r"^std must be > 0, got -1.0$"),
     ({"shape": (4, 4), "init": "normal", "nonlinearity": "relu"}, r"^normal takes no argument 'nonlinearity'; it takes mean, std, seed, stream"),
     ({"shape": (4, 4), "global_shape": (8, 4)}, r"^global_shape is set by the file writer"),
     ({"shape": (4, 4), "stream": -1}, r"^stream must be an int in \[0, 2\*\*64\), got -1$"),
     ({"shape": (4, 4), "chunk_bytes": 0}, "^chunk_bytes must be a positive int, got 0$"),
     ({"shape": (4, -4)}, "negative dimensions"),
     ({"spec": SPEC}, r"^a .npy file takes shape= \(one tensor\), not spec=$")],
)  # fmt: skip
def test_errors_write_nothing(tmp_path, kwargs, message):
    if message is None:
        with pytest.raises(TypeError, match=r"^dtype must be one of float16, float32, float64, got \['float32'\]$"):
            fk.init_file(tmp_path / "w.npy", seed=0, **kwargs)
    else:
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


@pytest.mark.parametrize("shape", [(3, 5, 7), (5, 4), (2, 1, 3, 1)])
def test_chunks_smaller_than_an_element(tmp_path, shape):
    """Blocks along inner axes, one element each, still equal the in-memory fill."""
    fk.init_file(tmp_path / "w.npy", shape, init="normal", dtype="float64", seed=5, chunk_bytes=1)
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), fk.normal(shape, "float64", seed=5))


BAD_SPEC = {
    "__metadata__": {"shape": [2]},
    "no_shape": {"init": "normal"},
    "negative": {"shape": [4, -1]},
    "listed_dtype": {"shape": [2], "dtype": ["float32"]},
    "unknown_key": {"shape": [2, 2], "stdd": 0.1},
    "unknown_init": {"shape": [2], "init": "gaussian"},
    "bad_argument": {"shape": [2, 2], "nonlinearity": "swish"},
    "huge": {"shape": [4294967296, 4294967296]},
    "not_a_mapping": [2, 2],
    "fine": {"shape": [2, 2]},
}
BAD_SPEC_LINES = [
    r"spec\['__metadata__'\]: the name __metadata__ is reserved by the safetensors format",
    r"spec\['no_shape'\]: missing 'shape' \(a list of ints\)",
    r"spec\['negative'\]: shape must not have negative dimensions, got \(4, -1\)",
    r"spec\['listed_dtype'\]: dtype must be one of float16, bfloat16, float32, float64, got \['float32'\]",
    r"spec\['unknown_key'\]: kaiming_normal takes no argument 'stdd'; it takes a, mode, nonlinearity, seed, stream, ",
    r"spec\['unknown_init'\]: init must be one of .*, got 'gaussian'",
    r"spec\['bad_argument'\]: nonlinearity must be one of .*, got 'swish'",
    r"spec\['huge'\]: shape \(4294967296, 4294967296\) has 18446744073709551616 elements, more than 2\*\*62",
    r"spec\['not_a_mapping'\]: must be a mapping with shape, dtype and init, got list",
]


def test_spec_reports_every_problem_before_creating_the_file(tmp_path):
    with pytest.raises(ValueError) as exc:
        fk.init_safetensors(tmp_path / "m.safetensors", BAD_SPEC, seed=0)
    lines = str(exc.value).splitlines()
    assert len(lines) == len(BAD_SPEC_LINES)  # one line per problem, "fine" has none
    for line, pattern in zip(lines, BAD_SPEC_LINES, strict=True):
        assert re.match(pattern, line), (line, pattern)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("spec", [["w"], "w", 3, None])
def test_spec_must_be_a_mapping(tmp_path, spec):
    with pytest.raises(TypeError, match=r"^spec must be a mapping of tensor names to entries .*, got "):
        fk.init_safetensors(tmp_path / "m.safetensors", spec, seed=0)
    with pytest.raises(TypeError, match=r"^spec\[1\]: tensor names must be str, got int$"):
        fk.init_safetensors(tmp_path / "m.safetensors", {1: {"shape": [2]}}, seed=0)
    with pytest.raises(ValueError, match=r"^spec\['\\ud800'\]: tensor names must be UTF-8 text \(a lone surrogate is not\)$"):
        fk.init_safetensors(tmp_path / "m.safetensors", {"\ud800": {"shape": [2]}}, seed=0)
    assert os.listdir(tmp_path) == []


def _metadata(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))["__metadata__"]


def test_safetensors_metadata_records_what_was_used(tmp_path):
    """An entry may override seed and stream: the header records each tensor's, and "seed" only
    when every tensor used it."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    spec = {"a": {"shape": [4, 3], "init": "normal", "std": 0.5},
            "b": {"shape": [5], "init": "uniform", "seed": 77, "stream": 3}}  # fmt: skip
    out = tmp_path / "m.safetensors"
    fk.init_safetensors(out, spec, seed=9)
    meta = _metadata(out)
    assert "seed" not in meta  # two seeds: none is "the" seed
    assert json.loads(meta["tensors"]) == {
        "a": {"init": "normal", "std": 0.5, "seed": 9, "stream": stream_for("a")},
        "b": {"init": "uniform", "seed": 77, "stream": 3},
    }
    loaded = safetensors_numpy.load_file(str(out))
    np.testing.assert_array_equal(loaded["a"], fk.normal((4, 3), std=0.5, seed=9, stream=stream_for("a")))
    np.testing.assert_array_equal(loaded["b"], fk.uniform(5, seed=77, stream=3))
    fk.init_safetensors(out, {"a": spec["a"], "c": {"shape": [2], "init": "normal", "seed": 9}}, seed=9)
    assert _metadata(out)["seed"] == "9" and _metadata(out)["generator"] == "fastkaiming"
    fk.init_safetensors(out, {"a": spec["a"]}, seed=None)  # one seed from the OS, recorded
    meta = _metadata(out)
    np.testing.assert_array_equal(safetensors_numpy.load_file(str(out))["a"],
                                  fk.normal((4, 3), std=0.5, seed=int(meta["seed"]), stream=stream_for("a")))  # fmt: skip


@pytest.mark.parametrize(
    "spec",
    [{},
     {"scalar": {"shape": [], "init": "normal"}, "empty": {"shape": [0, 5]}},
     {'quote"back\\slash': {"shape": [3], "init": "uniform"}, "ünï cödé": {"shape": [2, 2]}},
     {"odd": {"shape": [3], "dtype": "float16", "init": "uniform"}, "w": {"shape": [7, 5], "dtype": "float64"}}],
)  # fmt: skip
def test_safetensors_header_loads_with_numpy_and_torch(tmp_path, spec):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    out = tmp_path / "m.safetensors"
    fk.init_safetensors(out, spec, seed=1)
    assert sorted(safetensors_numpy.load_file(str(out))) == sorted(spec)
    if pytest.importorskip("torch"):
        from safetensors.torch import load_file

        assert sorted(load_file(str(out))) == sorted(spec)


def test_init_file_defaults_for_spec_entries(tmp_path):
    """For a .safetensors file, init= and dtype= are the defaults of entries naming none."""
    pytest.importorskip("safetensors")
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    out = tmp_path / "m.safetensors"
    fk.init_file(out, spec={"w": {"shape": [8, 4]}, "v": {"shape": [4], "dtype": "float32"}}, init="normal",
                 dtype="bfloat16", seed=2)  # fmt: skip
    loaded = load_file(str(out))
    ref = torch.empty(8, 4, dtype=torch.bfloat16)
    fk.normal_(ref, seed=2, stream=stream_for("w"))
    assert torch.equal(loaded["w"], ref) and loaded["v"].dtype == torch.float32
    with pytest.raises(ValueError, match=r"^a .safetensors file takes initializer arguments in its spec, got std=$"):
        fk.init_file(out, spec={"w": {"shape": [2]}}, seed=0, std=0.1)


# -- a full disk: an OSError naming the size needed and the free space, before any SIGBUS ------


def _free(monkeypatch, free):
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=free))


def test_a_file_larger_than_the_free_space_is_refused_before_it_exists(tmp_path):
    """4 TiB on a disk with less free: nothing is created (no sparse file)."""
    free = shutil.disk_usage(tmp_path).free
    if free >= 4 << 40:
        pytest.skip("this disk has 4 TiB free")
    with pytest.raises(OSError, match=rf"^\[Errno 28\] not enough space for big.npy: it needs 4398046511232 bytes "
                                      rf"\(4.0 TiB\), {re.escape(str(tmp_path))} has \d+ bytes free") as exc:  # fmt: skip
        fk.init_file(tmp_path / "big.npy", (1 << 20, 1 << 20), init="normal", seed=0)
    assert exc.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []


def test_free_space_check_covers_safetensors(tmp_path, monkeypatch):
    _free(monkeypatch, 1000)
    with pytest.raises(OSError, match=r"^\[Errno 28\] not enough space for m.safetensors: it needs \d+ bytes .* has 1000 bytes free \(1000 bytes\)$"):
        fk.init_safetensors(tmp_path / "m.safetensors", SPEC, seed=0)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_failed_reservation_removes_the_temporary_file(tmp_path, monkeypatch, code):
    def full(fd, offset, length):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    message = "more than the filesystem" if code == errno.EFBIG else "not enough space for w.npy: it needs 262272 bytes"
    with pytest.raises(OSError, match=message) as exc:
        fk.init_file(tmp_path / "w.npy", (256, 256), seed=0)
    assert exc.value.errno == (errno.EFBIG if code == errno.EFBIG else errno.ENOSPC)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("how", ["absent", "unsupported"])
def test_reservation_fallback_writes_zeros_then_the_fill(tmp_path, monkeypatch, how):
    """Without posix_fallocate (macOS, Windows) or on a filesystem without it: zeros written."""
    if how == "absent":
        monkeypatch.delattr(os, "posix_fallocate", raising=False)
    else:
        def unsupported(fd, offset, length):
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

        monkeypatch.setattr(os, "posix_fallocate", unsupported, raising=False)
    fk.init_file(tmp_path / "w.npy", (300, 200), seed=4, chunk_bytes=10_000)
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), fk.kaiming_normal((300, 200), seed=4))


TMPFS_PROBE = """
import os, shutil, sys
import fastkaiming as fk
folder, mode = sys.argv[1], sys.argv[2]
if mode != "checked":  # the free-space check passes: the reservation must catch it
    real = shutil.disk_usage
    shutil.disk_usage = lambda path: real(path)._replace(free=1 << 40)
if mode == "no_fallocate":
    del os.posix_fallocate
try:
    fk.init_file(os.path.join(folder, "w.npy"), (1024, 1024), seed=0, chunk_bytes=1 << 16)  # 4 MiB
except OSError as exc:
    print(exc)
print(sorted(os.listdir(folder)))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="mounts a tmpfs")
@pytest.mark.parametrize("mode", ["checked", "fallocate", "no_fallocate"])
def test_full_tmpfs_is_an_oserror_not_sigbus(tmp_path, mode):
    folder = tmp_path / f"tmpfs-{uuid.uuid4().hex}"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True, timeout=30)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        proc = subprocess.run([sys.executable, "-c", TMPFS_PROBE, str(folder), mode], capture_output=True,
                              text=True, timeout=120)  # fmt: skip
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True, timeout=30)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)  # -7 would be SIGBUS
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("[Errno 28] not enough space for w.npy: it needs 4194432 bytes (4.0 MiB), ")
    assert lines[1] == "[]"  # the temporary file is gone


def test_fsync_file_before_rename_and_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    fk.init_file(tmp_path / "w.npy", (64, 64), seed=0)
    assert events == ["fsync file", "replace", "fsync folder"]
    events.clear()
    fk.init_safetensors(tmp_path / "m.safetensors", {"w": {"shape": [4, 4]}}, seed=0)
    assert events == ["fsync file", "replace", "fsync folder"]


def test_folder_sync_without_o_directory_or_on_windows(tmp_path, monkeypatch):
    """Portability: no O_DIRECTORY (then a plain read-only open), Windows (no folder fsync), a
    filesystem that cannot sync folders (EINVAL)."""
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)) or real_fsync(fd))
    monkeypatch.delattr(os, "O_DIRECTORY", raising=False)
    _files._sync_folder(tmp_path)
    assert synced == [True]

    def einval(fd):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    monkeypatch.setattr(os, "fsync", einval)
    _files._sync_folder(tmp_path)  # nothing more to do
    monkeypatch.setattr(os, "name", "nt")
    monkeypatch.setattr(os, "open", lambda *args: pytest.fail("a folder is not opened on Windows"))
    _files._sync_folder(tmp_path)


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
    capsys.readouterr()
    assert cli.main(["init", str(tmp_path / "x.npy"), "--seed", "0"]) == 2
    assert "fastkaiming init: error: a .npy file needs --shape" in capsys.readouterr().err


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


# -- overwriting: permission bits kept, symbolic links written through ---------------------------


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_overwriting_keeps_the_permission_bits(tmp_path, mode):
    out = tmp_path / "w.npy"
    out.write_bytes(b"old")
    out.chmod(mode)
    fk.init_file(out, (8, 8), seed=0, quiet=True)
    assert stat.S_IMODE(out.stat().st_mode) == mode
    np.testing.assert_array_equal(np.load(out), fk.kaiming_normal((8, 8), seed=0))


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_a_new_file_gets_the_umask_s_bits(tmp_path):
    old = os.umask(0o027)
    try:
        fk.init_file(tmp_path / "w.npy", (4, 4), seed=0, quiet=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w.npy").stat().st_mode) == 0o640


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
@pytest.mark.parametrize("exists", [True, False])
def test_a_symbolic_link_is_written_through(tmp_path, exists):
    """The file the link points to is replaced (in its own folder); the link stays a link."""
    (tmp_path / "store").mkdir()
    (tmp_path / "run").mkdir()
    target = tmp_path / "store" / "w.npy"
    if exists:
        target.write_bytes(b"old")
        target.chmod(0o600)
    link = tmp_path / "run" / "w.npy"
    link.symlink_to(os.path.join("..", "store", "w.npy"))
    assert fk.init_file(link, (8, 8), seed=1, quiet=True) == link
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "store", "w.npy")
    np.testing.assert_array_equal(np.load(target), fk.kaiming_normal((8, 8), seed=1))
    assert os.listdir(tmp_path / "run") == ["w.npy"] and os.listdir(tmp_path / "store") == ["w.npy"]
    if exists:
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


# -- constant inits (a model's norm weights and biases) and the file's seed ------------------------


def test_constant_inits_write_every_dtype(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    spec = {"norm.weight": {"shape": [5], "init": "ones", "dtype": "bfloat16"},
            "linear.bias": {"shape": [3], "init": "zeros", "dtype": "float16"},
            "scale": {"shape": [2, 2], "init": "constant", "value": 0.1, "dtype": "bfloat16"},
            "gamma": {"shape": [4], "init": "constant", "value": -2.5e-3, "dtype": "float64"},
            "linear.weight": {"shape": [3, 5]}}  # fmt: skip
    out = fk.init_safetensors(tmp_path / "m.safetensors", spec, seed=4, chunk_bytes=4)
    loaded = load_file(str(out))
    assert torch.equal(loaded["norm.weight"], torch.ones(5, dtype=torch.bfloat16))
    assert torch.equal(loaded["linear.bias"], torch.zeros(3, dtype=torch.float16))
    assert torch.equal(loaded["scale"], torch.full((2, 2), 0.1, dtype=torch.bfloat16))  # torch's rounding
    assert torch.equal(loaded["gamma"], torch.full((4,), -2.5e-3, dtype=torch.float64))
    assert torch.equal(loaded["linear.weight"], fk.torch.kaiming_normal_(torch.empty(3, 5), seed=4,
                                                                        stream=stream_for("linear.weight")))  # fmt: skip
    from safetensors import safe_open

    with safe_open(str(out), "np") as f:
        metadata = f.metadata()
    assert metadata["seed"] == "4"
    assert json.loads(metadata["tensors"])["scale"] == {"init": "constant", "value": 0.1}


@pytest.mark.parametrize("init,kwargs,value", [("zeros", {}, 0.0), ("ones", {}, 1.0), ("constant", {"value": 3}, 3.0)])
def test_constant_npy(tmp_path, init, kwargs, value):
    out = fk.init_file(tmp_path / "w.npy", (7, 3), init=init, seed=0, chunk_bytes=8, **kwargs)
    got = np.load(out)
    assert got.dtype == np.float32 and (got == value).all()


@pytest.mark.parametrize(
    "entry,message",
    [({"init": "constant"}, r"constant needs 'value', the number every element gets \(e.g. \"value\": 0.5\)"),
     ({"init": "constant", "value": 1e6, "dtype": "float16"}, r"value 1000000.0 is beyond the range of float16"),
     ({"init": "constant", "value": 3.4e38, "dtype": "bfloat16"}, r"value 3.4e\+38 is beyond the range of bfloat16"),
     ({"init": "constant", "value": float("nan")}, r"value must be finite, got nan"),
     ({"init": "zeros", "seed": 3}, r"zeros takes no argument 'seed'; it takes none"),
     ({"init": "ones", "stream": 3}, r"ones takes no argument 'stream'; it takes none"),
     ({"init": "zeros", "value": 3}, r"zeros takes no argument 'value'; it takes none"),
     ({"seed": None}, r"seed must be an int in \[0, 2\*\*64\), got None \(leave 'seed' out to use the file's seed\)"),
     ({"init": "normal", "seed": None}, r"seed must be an int in \[0, 2\*\*64\), got None")],
)  # fmt: skip
def test_spec_entry_problems_of_constants_and_seeds(tmp_path, entry, message):
    with pytest.raises(ValueError, match=rf"^spec\['w'\]: {message}"):
        fk.init_safetensors(tmp_path / "m.safetensors", {"w": {"shape": [2], **entry}}, seed=0)
    assert os.listdir(tmp_path) == []


def test_constant_value_must_be_a_number(tmp_path):
    with pytest.raises(TypeError, match=r"^spec\['w'\]: value must be a real number, got str '1'$"):
        fk.init_safetensors(tmp_path / "m.safetensors", {"w": {"shape": [2], "init": "constant", "value": "1"}}, seed=0)
    with pytest.raises(ValueError, match=r"^zeros takes no argument 'stream'; it takes none$"):
        fk.init_file(tmp_path / "w.npy", (2,), init="zeros", seed=0, stream=1)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_a_link_to_a_link_is_followed_to_the_file(tmp_path):
    (tmp_path / "w.npy").write_bytes(b"old")
    (tmp_path / "a.npy").symlink_to("w.npy")
    (tmp_path / "b.npy").symlink_to("a.npy")
    fk.init_file(tmp_path / "b.npy", (3, 3), seed=2, quiet=True)
    assert os.readlink(tmp_path / "b.npy") == "a.npy" and os.readlink(tmp_path / "a.npy") == "w.npy"
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), fk.kaiming_normal((3, 3), seed=2))
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "b.npy", "w.npy"]
