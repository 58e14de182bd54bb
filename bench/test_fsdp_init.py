"""Initializing an FSDP2 model's local shards on N CPU ranks: fastkaiming.torch.init_module_
against torch's reset_parameters(), on the same ranks in the same run.

A stack of Linear(width, width) layers built on the meta device, fully_shard per layer (gloo, CPU
mesh), materialized uninitialized with to_empty. When timing: width 8192, 16 layers, 1.07 B
parameters (4.3 GB of float32, 1/N of it per rank); FASTKAIMING_BENCH_FSDP="WIDTH,DEPTH" sets
the size; smoke mode (--benchmark-disable) uses 256 x 4. Each rank gets 1/N of the cores, for
both implementations. The ranks stay up across rounds; each round times, on every rank, the
init between two barriers: extra_info holds the per-rank medians, the benchmark's own time is
the round trip (the slowest rank plus a few ms of queue traffic).

    pytest bench/test_fsdp_init.py --benchmark-group-by=group --benchmark-columns=median
"""
import datetime
import os
import socket
import statistics
import time

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

TIMEOUT = 600  # seconds for any one step of a rank


def _size(smoke):
    if smoke:
        return 256, 4
    width, depth = os.environ.get("FASTKAIMING_BENCH_FSDP", "8192,16").split(",")
    return int(width), int(depth)


def _rank(rank, world, port, width, depth, commands, replies):
    """One rank: build the sharded model, then run each command ("fastkaiming", "torch") timed."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    import fastkaiming.torch as fki

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=TIMEOUT))
    threads = max(1, (os.cpu_count() or 1) // world)
    torch.set_num_threads(threads)
    mesh = init_device_mesh("cpu", (world,))
    with torch.device("meta"):
        model = torch.nn.Sequential(*(torch.nn.Linear(width, width) for _ in range(depth)))
    for layer in model:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    local = sum(p.to_local().numel() for p in model.parameters())
    replies.put(("ready", rank, local))
    while (command := commands[rank].get(timeout=TIMEOUT)) != "stop":
        dist.barrier()
        start = time.perf_counter()
        if command == "fastkaiming":
            fki.init_module_(model, seed=0, threads=threads)
        else:
            for module in model.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
        elapsed = time.perf_counter() - start
        dist.barrier()
        replies.put((command, rank, elapsed))
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(request):
    """Started ranks per world size, reused by both implementations; stopped at the end."""
    started = {}
    ctx = torch.multiprocessing.get_context("spawn")

    def start(world, width, depth):
        if world not in started:
            stop()  # one world size in memory at a time
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            commands, replies = [ctx.Queue() for _ in range(world)], ctx.Queue()
            procs = [ctx.Process(target=_rank, args=(r, world, port, width, depth, commands, replies),
                                 daemon=True) for r in range(world)]  # fmt: skip
            for p in procs:
                p.start()
            ready = dict(replies.get(timeout=TIMEOUT)[1:] for _ in procs)  # rank: local params
            local = [ready[r] for r in range(world)]
            started[world] = (procs, commands, replies, local)
        return started[world]

    def stop():
        for procs, commands, _, _ in started.values():
            for q in commands:
                q.put("stop")
            for p in procs:
                p.join(60)
                if p.is_alive():
                    p.terminate()
        started.clear()

    yield start
    stop()


@pytest.mark.parametrize("world,impl", [(w, i) for w in (1, 2) for i in ("fastkaiming", "torch")])
def test_fsdp_init(benchmark, ranks, world, impl):
    width, depth = _size(benchmark.disabled)
    procs, commands, replies, local = ranks(world, width, depth)
    params = (width * width + width) * depth
    times = {r: [] for r in range(world)}

    def round_trip():
        for q in commands:
            q.put(impl)
        for _ in range(world):
            command, rank, elapsed = replies.get(timeout=TIMEOUT)
            assert command == impl
            times[rank].append(elapsed)

    benchmark.group = f"fsdp-init-{params / 1e9:.2f}B-params-{world}-ranks"
    benchmark.pedantic(round_trip, rounds=3, iterations=1, warmup_rounds=1)
    if not benchmark.disabled:
        medians = [statistics.median(times[r][1:]) for r in range(world)]  # without the warm-up
        benchmark.extra_info.update(params=params, local_params=local, per_rank_median_s=medians,
                                    Gparams_per_s_per_rank=[n / t / 1e9 for n, t in zip(local, medians, strict=True)])  # fmt: skip
