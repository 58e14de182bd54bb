"""A Llama-style block built on the meta device, sharded with FSDP2 on N CPU ranks (gloo), then
initialized two ways: fastkaiming.torch.init_module_ and torch's own reset_parameters() after
torch.manual_seed(0). One digest of the full weights per world size and way: fastkaiming gives
the same model for every N, and the same as the unsharded model in one process; torch's DTensor
random ops give a different one for each N.

    python examples/fsdp_init.py          # N = 1, 2, 4
    python examples/fsdp_init.py 1 2 3
"""
import datetime
import hashlib
import os
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import fastkaiming.torch as fki

DIM, HIDDEN, VOCAB, HEADS = 64, 172, 101, 4  # 172 and 101: uneven shards on 3 or 4 ranks
TIMEOUT = 300  # seconds for one world size


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(DIM, DIM, False) for _ in range(4))

    def forward(self, x):
        b, t, _ = x.shape
        heads = (p(x).view(b, t, HEADS, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        q, k, v = heads
        y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, DIM))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj, self.up_proj = nn.Linear(DIM, HIDDEN, bias=False), nn.Linear(DIM, HIDDEN, bias=False)
        self.down_proj = nn.Linear(HIDDEN, DIM, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.attn_norm, self.mlp_norm = nn.RMSNorm(DIM), nn.RMSNorm(DIM)
        self.attn, self.mlp = Attention(), MLP()

    def forward(self, tokens):
        x = self.embed(tokens)
        x = x + self.attn(self.attn_norm(x))
        return x + self.mlp(self.mlp_norm(x))


def sharded_block(mesh):
    """Built on meta (no memory, no init), sharded with FSDP2, materialized uninitialized."""
    from torch.distributed.fsdp import fully_shard

    with torch.device("meta"):
        model = Block()
    for layer in (model.attn, model.mlp):
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model.to_empty(device="cpu")


def digest(model):
    """16 hex digits of SHA-256 over every parameter's name and full (unsharded) bytes."""
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        full = p.full_tensor() if hasattr(p, "full_tensor") else p
        h.update(full.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def rank_main(rank, world, port, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=TIMEOUT))
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh("cpu", (world,))
    model = sharded_block(mesh)
    fki.init_module_(model, seed=0, check_seed=True)  # no communication but the seed check
    ours = digest(model)

    model = sharded_block(mesh)
    torch.manual_seed(0)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    theirs = digest(model)
    if rank == 0:
        queue.put((world, ours, theirs))
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(worlds):
    ctx = mp.get_context("spawn")
    print("world size  fastkaiming       torch")
    print(f"{'unsharded':>10}  {digest(fki.init_module_(Block(), seed=0))}  (one process, no mesh)")
    for world in worlds:
        queue, port = ctx.Queue(), free_port()
        procs = [ctx.Process(target=rank_main, args=(r, world, port, queue)) for r in range(world)]
        for p in procs:
            p.start()
        try:
            _, ours, theirs = queue.get(timeout=TIMEOUT)
        except Exception:  # queue.Empty: a rank failed or hung
            ours = None
        for p in procs:
            p.join(TIMEOUT)
            if p.is_alive():
                p.terminate()
        if ours is None or any(p.exitcode != 0 for p in procs):
            sys.exit(f"world size {world}: a rank failed (exit codes {[p.exitcode for p in procs]})")
        print(f"{world:>10}  {ours}  {theirs}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 2, 4])
