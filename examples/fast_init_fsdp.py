"""A torchtitan-style model's own ``init_weights`` (``nn.init.trunc_normal_`` and ``normal_`` on
FSDP2 DTensor parameters), run unchanged under ``fastkaiming.torch.fast_init(model, seed=0)``.

The model is built on the meta device, sharded with FSDP2 (``fully_shard``) on N CPU ranks
(gloo), materialized with ``to_empty`` and initialized two ways: its init_weights under
fast_init, and its init_weights as torch runs it after ``torch.manual_seed(0)``. One digest of
the full weights per world size and way: under fast_init the same model for every N, and the
same as the unsharded model in one process; torch's DTensor random ops give another for each N.

    python examples/fast_init_fsdp.py          # N = 1, 2, 3, 4
    python examples/fast_init_fsdp.py 1 2
"""
import datetime
import os
import sys
import warnings

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from fsdp_init import digest, free_port  # beside this file: the init_module_ example's helpers
from torch import nn

from fastkaiming.torch import fast_init

DIM, HIDDEN, VOCAB, LAYERS = 48, 136, 101, 2  # 136 and 101: uneven shards on 3 or 4 ranks
TIMEOUT = 300  # seconds for one world size


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(DIM, DIM, bias=False) for _ in range(4))

    def init_weights(self, std):
        for linear in (self.wq, self.wk, self.wv):
            nn.init.trunc_normal_(linear.weight, mean=0.0, std=0.02)
        nn.init.trunc_normal_(self.wo.weight, mean=0.0, std=std)


class FeedForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1, self.w3 = nn.Linear(DIM, HIDDEN, bias=False), nn.Linear(DIM, HIDDEN, bias=False)
        self.w2 = nn.Linear(HIDDEN, DIM, bias=False)

    def init_weights(self, std):
        nn.init.trunc_normal_(self.w1.weight, mean=0.0, std=0.02)
        for linear in (self.w2, self.w3):
            nn.init.trunc_normal_(linear.weight, mean=0.0, std=std)


class Block(nn.Module):
    def __init__(self, layer_id):
        super().__init__()
        self.attention_norm, self.ffn_norm = nn.RMSNorm(DIM), nn.RMSNorm(DIM)
        self.attention, self.feed_forward = Attention(), FeedForward()
        self.std = 0.02 / (2 * (layer_id + 1)) ** 0.5  # torchtitan's depth-scaled std

    def init_weights(self):
        for norm in (self.attention_norm, self.ffn_norm):
            norm.reset_parameters()
        self.attention.init_weights(self.std)
        self.feed_forward.init_weights(self.std)


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_embeddings = nn.Embedding(VOCAB, DIM)
        self.layers = nn.ModuleList(Block(i) for i in range(LAYERS))
        self.norm = nn.RMSNorm(DIM)
        self.output = nn.Linear(DIM, VOCAB, bias=False)

    def init_weights(self):
        nn.init.normal_(self.tok_embeddings.weight)
        for layer in self.layers:
            layer.init_weights()
        self.norm.reset_parameters()
        std = DIM**-0.5
        nn.init.trunc_normal_(self.output.weight, mean=0.0, std=std, a=-3 * std, b=3 * std)


def sharded_model(mesh):
    """Built on meta (no memory, no init), sharded with FSDP2, materialized uninitialized."""
    from torch.distributed.fsdp import fully_shard

    with torch.device("meta"):
        model = Transformer()
    for layer in model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model.to_empty(device="cpu")


def rank_main(rank, world, port, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    warnings.filterwarnings("ignore", "DTensor random operators")  # torch's own way, on a CPU mesh
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=TIMEOUT))
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh("cpu", (world,))
    model = sharded_model(mesh)
    with fast_init(model, seed=0, strict=True):  # strict: every random call is served
        model.init_weights()
    ours = digest(model)

    model = sharded_model(mesh)
    torch.manual_seed(0)
    model.init_weights()
    theirs = digest(model)
    if rank == 0:
        queue.put((world, ours, theirs))
    dist.barrier()
    dist.destroy_process_group()


def unsharded():
    """The same model in one process, no mesh, no DTensor."""
    model = Transformer()
    with fast_init(model, seed=0, strict=True):
        model.init_weights()
    return digest(model)


def spawned(world):
    """(fast_init's digest, torch's) from `world` spawned ranks."""
    ctx = mp.get_context("spawn")
    queue, port = ctx.Queue(), free_port()
    procs = [ctx.Process(target=rank_main, args=(r, world, port, queue)) for r in range(world)]
    for p in procs:
        p.start()
    try:
        _, ours, theirs = queue.get(timeout=TIMEOUT)
    except Exception:  # queue.Empty: a rank failed or hung
        ours = theirs = None
    for p in procs:
        p.join(TIMEOUT)
        if p.is_alive():
            p.terminate()
    if ours is None or any(p.exitcode != 0 for p in procs):
        sys.exit(f"world size {world}: a rank failed (exit codes {[p.exitcode for p in procs]})")
    return ours, theirs


def main(worlds):
    print("world size  fast_init         torch")
    print(f"{'unsharded':>10}  {unsharded()}  (one process, no mesh)")
    for world in worlds:
        print(f"{world:>10}  {'  '.join(spawned(world))}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 2, 3, 4])
