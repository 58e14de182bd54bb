"""`fastkaiming init` and init_file stopped by a real signal: no temporary file, the truth reported.

Each case runs the writer in a subprocess that pauses at a known point (the second chunk, or the
folder sync after the rename) and says so on stdout; the test then sends the signal. Every wait
is bounded.
"""
import os
import selectors
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastkaiming as fk

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")

TIMEOUT = 120

# argv: out, where ("fill": the second chunk; "folder": the folder sync after the rename), "cli" or "library"
PROBE = r"""
import signal, sys, time
import fastkaiming as fk
from fastkaiming import __main__ as cli, _files

out, where, mode = sys.argv[1:]
name = "_fill_window" if where == "fill" else "_sync_folder"
real, calls = getattr(_files, name), []

def paused(*args, **kwargs):
    calls.append(1)
    if where == "folder" or len(calls) == 2:
        print("paused", flush=True)
        time.sleep(TIMEOUT)
    return real(*args, **kwargs)

setattr(_files, name, paused)
for s in (signal.SIGTERM, signal.SIGHUP):  # as in a terminal, whatever the test runner ignores (nohup)
    signal.signal(s, signal.SIG_DFL)
signal.signal(signal.SIGINT, signal.default_int_handler)  # ignored in a background job
if mode == "cli":
    sys.exit(cli.main(["init", out, "--shape", "64,64", "--seed", "5", "--chunk", "4096", "--quiet"]))
fk.init_file(out, (64, 64), seed=5, chunk_bytes=4096, quiet=True)
""".replace("TIMEOUT", str(TIMEOUT))


def _run_until_paused(tmp_path, where, mode):
    out = tmp_path / "w.npy"
    out.write_bytes(b"old contents")
    proc = subprocess.Popen([sys.executable, "-c", PROBE, str(out), where, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout=TIMEOUT)
    line = proc.stdout.readline() if ready else ""
    if line != "paused\n":
        proc.kill()
        _, err = proc.communicate(timeout=TIMEOUT)
        pytest.fail(f"the writer did not reach its pause: {line!r}\n{err[-3000:]}")
    return proc, out


def _one_kernel(isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("one kernel is enough (the test runs a process)")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_cli_stopped_mid_write_leaves_the_old_file_and_no_partial(tmp_path, isa, sig):
    _one_kernel(isa)
    proc, out = _run_until_paused(tmp_path, "fill", "cli")
    partial = f".w.npy.{proc.pid}.partial"
    assert sorted(os.listdir(tmp_path)) == [partial, "w.npy"]  # mid-write: the reserved temporary file
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 128 + getattr(signal, sig), err
    assert err.splitlines()[-1] == f"fastkaiming init: error: interrupted by {sig}: {out} was not written (nor changed)"
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == ["w.npy"] and out.read_bytes() == b"old contents"


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_cli_stopped_during_the_folder_sync_says_the_file_was_replaced(tmp_path, isa, sig):
    _one_kernel(isa)
    proc, out = _run_until_paused(tmp_path, "folder", "cli")
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 128 + getattr(signal, sig), err
    assert err.splitlines()[-1] == (
        f"fastkaiming init: error: interrupted by {sig} while syncing the folder: {out} was written and "
        "replaced (complete), but the rename may not survive a power loss"
    )
    assert os.listdir(tmp_path) == ["w.npy"]
    np.testing.assert_array_equal(np.load(out), fk.kaiming_normal((64, 64), seed=5))


@pytest.mark.parametrize("where", ["fill", "folder"])
def test_init_file_killed_by_sigterm_cleans_up_and_dies_by_the_signal(tmp_path, isa, where):
    """In a program with the default SIGTERM handler, the process still ends by SIGTERM."""
    _one_kernel(isa)
    proc, out = _run_until_paused(tmp_path, where, "library")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGTERM, err
    assert os.listdir(tmp_path) == ["w.npy"]
    if where == "fill":
        assert out.read_bytes() == b"old contents"
    else:
        np.testing.assert_array_equal(np.load(out), fk.kaiming_normal((64, 64), seed=5))


def test_a_program_s_own_handlers_are_kept_and_the_default_restored(tmp_path):
    def own(signum, frame):
        raise AssertionError("not called")

    before = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, own)
        fk.init_file(tmp_path / "a.npy", (4, 4), seed=0, quiet=True)
        assert signal.getsignal(signal.SIGTERM) is own
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        fk.init_file(tmp_path / "b.npy", (4, 4), seed=0, quiet=True)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)
