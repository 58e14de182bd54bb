"""The thread pool: interrupts, fork, concurrent callers, and the threads= convention."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastkaiming as fk
import fastkaiming._api as api
from fastkaiming import _checks


@pytest.fixture
def interruptible():
    """SIGINT raises KeyboardInterrupt, as in a terminal, even when the suite was started with
    SIGINT ignored (a background job of a non-interactive shell, nohup)."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, saved)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_stops_a_long_fill(threads, monkeypatch, interruptible):
    monkeypatch.setattr(api, "_ISA", 0)  # the scalar kernel: this fill takes seconds
    x = np.full(1 << 27, np.nan)  # 1 GiB float64
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        fk.normal_(x, seed=1, threads=threads)
    elapsed = time.perf_counter() - start
    timer.join()
    assert np.isnan(x[-1]), "the fill ran to the end: the interrupt was not seen"
    assert elapsed < 2.0
    # the library is still usable, and the pool still gives the same answer
    a = fk.normal_(np.empty(1 << 20, np.float32), seed=2, threads=threads)
    monkeypatch.setattr(api, "_ISA", max(fk._core.isa_names().values()))
    b = fk.normal_(np.empty(1 << 20, np.float32), seed=2, threads=1)
    np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fill_after_fork():
    n = 1 << 21
    expected = fk.normal_(np.empty(n, np.float32), seed=5, threads=2)  # the pool exists now
    pid = os.fork()
    if pid == 0:  # child: the pool's workers did not survive the fork
        try:
            got = fk.normal_(np.empty(n, np.float32), seed=5, threads=2)
            os._exit(0 if np.array_equal(got, expected) else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


# Forks from a SIGALRM handler, which runs in the fill's signal polling (so while both threads
# write), once; the child checks its buffer and answers through its exit status.
_FORK_DURING_FILL = r"""
import os, signal, sys, time
import numpy as np
import fastkaiming as fk
import fastkaiming._api as api
api._ISA = 0  # the scalar kernel: a fill lasts several of the 20 ms polling periods
n = 1 << 24
expected = fk.normal_(np.empty(n), seed=7, threads=1)
parent, forked = os.getpid(), []

def handler(signum, frame):
    if not forked and frame is not None and frame.f_code is api._fill.__code__:
        signal.setitimer(signal.ITIMER_REAL, 0)
        forked.append(os.fork())

signal.signal(signal.SIGALRM, handler)
for attempt in range(20):
    x = np.zeros(n)
    signal.setitimer(signal.ITIMER_REAL, 0.002, 0.002)
    fk.normal_(x, seed=7, threads=2)
    signal.setitimer(signal.ITIMER_REAL, 0)
    if os.getpid() != parent:
        os._exit(0 if np.array_equal(x, expected) else 10 + min(int((x != expected).sum() >> 16), 100))
    if forked:
        break
else:
    sys.exit("never forked during a fill")
deadline = time.monotonic() + 60
while not (status := os.waitpid(forked[0], os.WNOHANG))[0]:
    if time.monotonic() > deadline:
        os.kill(forked[0], signal.SIGKILL)
        sys.exit("the child hung")
    time.sleep(0.01)
sys.exit(os.waitstatus_to_exitcode(status[1]))
"""


@pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(signal, "setitimer"), reason="needs fork()")
def test_fork_during_a_threaded_fill_leaves_the_child_a_complete_buffer(isa, tmp_path):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("the pool's test: it runs on the scalar kernel once")
    script = tmp_path / "fork_during_fill.py"
    script.write_text(_FORK_DURING_FILL)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"


def test_concurrent_callers_share_and_separate_buffers():
    n = 1 << 20
    expected = {s: fk.uniform_(np.empty(n, np.float32), seed=s, threads=1) for s in range(4)}
    shared = np.empty(n, np.float32)
    errors = []

    def work(s):
        try:
            for _ in range(5):
                mine = fk.uniform_(np.empty(n, np.float32), seed=s, threads=2)
                if not np.array_equal(mine, expected[s]):
                    errors.append(f"seed {s}: wrong values")
                fk.uniform_(shared, seed=0, threads=2)  # everyone writes the same values
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    np.testing.assert_array_equal(shared, expected[0])


def test_threads_none_uses_usable_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if hasattr(os, "sched_getaffinity"):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 5, 7})
        assert _checks.threads(None) == 5
        assert _checks.threads(-1) == 5
        assert _checks.threads(-2) == 4
        assert _checks.threads(-10) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert _checks.threads(None) == 3
    assert _checks.threads(-1) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "4,2")  # nested setting: the outer level
    assert _checks.threads(None) == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert _checks.threads(None) >= 1
    assert _checks.threads(7) == 7


def test_more_threads_than_chunks_or_cores():
    a = fk.normal_(np.empty(300_000, np.float32), seed=1, threads=64)
    b = fk.normal_(np.empty(300_000, np.float32), seed=1, threads=1)
    np.testing.assert_array_equal(a, b)


def test_stress_many_callers_for_a_bounded_time():
    """8 Python threads fill shared and separate buffers for about 2 s; every value checked."""
    sizes = [1000, 300_000, 1 << 20]
    expected = {n: fk.normal_(np.empty(n, np.float32), seed=n, threads=1) for n in sizes}
    shared = {n: np.empty(n, np.float32) for n in sizes}
    deadline = time.monotonic() + 2.0
    errors, fills = [], [0]

    def work(k):
        rng = np.random.default_rng(k)
        while time.monotonic() < deadline:
            n = sizes[rng.integers(len(sizes))]
            threads = int(rng.integers(1, 4))
            if rng.random() < 0.5:
                out = fk.normal_(np.empty(n, np.float32), seed=n, threads=threads)
                if not np.array_equal(out, expected[n]):
                    errors.append(f"thread {k}: wrong values for n={n}")
            else:
                fk.normal_(shared[n], seed=n, threads=threads)  # all writers write the same values
            fills[0] += 1

    workers = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == [] and fills[0] > 8
    for n in sizes:
        np.testing.assert_array_equal(shared[n], expected[n])
