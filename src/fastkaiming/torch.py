"""A drop-in for ``torch.nn.init``: ``from fastkaiming import torch as init``.

Every function of torch.nn.init, with the same names, signatures and semantics:

- kaiming_normal_, kaiming_uniform_, xavier_normal_, xavier_uniform_, trunc_normal_, normal_,
  uniform_ are filled by fastkaiming in place under ``torch.no_grad()``;
- orthogonal_ and sparse_ follow torch's algorithms on fastkaiming's normal fill (the QR of a
  fastkaiming normal matrix; the zeroed rows chosen from fastkaiming words), so their result is a
  function of the seed;
- constant_, zeros_, ones_, eye_, dirac_ need no randomness and behave exactly as torch's;
- calculate_gain is torch's formula.

The randomness comes from a fastkaiming seed: ``seed=`` if given, else drawn from ``generator``
(or torch's default generator), so ``torch.manual_seed(0)`` makes runs reproducible as it does
for torch.nn.init. On a meta tensor every function is a no-op that returns the tensor, as
torch's are (arguments are still checked as torch checks them; no seed is drawn).

``init_module_`` re-initializes a whole model the way each layer's ``reset_parameters`` would,
each parameter on its own stream derived from its qualified name.
"""
from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from . import _api, _checks, _distributed, _family, _torch_intake
from ._blocks import stream_for
from ._fans import calculate_gain, compute_fans, kaiming_std
from ._fast_init import fast_init

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "fast_init",
    "init_module_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "stream_for",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_init = torch.nn.init


def _seed(generator: torch.Generator | None, seed: int | None) -> int:
    """The fastkaiming seed: `seed`, else 63 bits drawn from the torch generator."""
    if seed is not None:
        if generator is not None:
            raise ValueError("pass either generator= or seed=, not both")
        return seed
    draw = torch.randint(0, 2**63 - 1, (1,), generator=generator, dtype=torch.int64)
    return int(draw.item())


def _is_meta(tensor: object) -> bool:
    return getattr(tensor, "is_meta", False) is True


def _on_meta(torch_init: Callable[..., torch.Tensor], tensor: torch.Tensor, generator: object,
             seed: object, *args: object) -> torch.Tensor:  # fmt: skip
    """torch's own init on a meta tensor: its checks, then nothing (no data, no seed drawn)."""
    if seed is not None and generator is not None:
        raise ValueError("pass either generator= or seed=, not both")
    torch_init(tensor, *args)
    return tensor


def kaiming_normal_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: torch.Generator | None = None,
                    *, seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.kaiming_normal_, filled by fastkaiming."""
    if _is_meta(tensor):
        return _on_meta(_init.kaiming_normal_, tensor, generator, seed, a, mode, nonlinearity)
    with torch.no_grad():
        return _api.kaiming_normal_(tensor, a, mode, nonlinearity, seed=_seed(generator, seed),
                                    stream=stream)  # fmt: skip


def kaiming_uniform_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: torch.Generator | None = None,
                     *, seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.kaiming_uniform_, filled by fastkaiming."""
    if _is_meta(tensor):
        return _on_meta(_init.kaiming_uniform_, tensor, generator, seed, a, mode, nonlinearity)
    with torch.no_grad():
        return _api.kaiming_uniform_(tensor, a, mode, nonlinearity, seed=_seed(generator, seed),
                                     stream=stream)  # fmt: skip


def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0,
                   generator: torch.Generator | None = None, *, seed: int | None = None,
                   stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.xavier_normal_, filled by fastkaiming."""
    if _is_meta(tensor):
        return _on_meta(_init.xavier_normal_, tensor, generator, seed, gain)
    with torch.no_grad():
        return _family.xavier_normal_(tensor, gain, seed=_seed(generator, seed), stream=stream)


def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0,
                    generator: torch.Generator | None = None, *, seed: int | None = None,
                    stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.xavier_uniform_, filled by fastkaiming."""
    if _is_meta(tensor):
        return _on_meta(_init.xavier_uniform_, tensor, generator, seed, gain)
    with torch.no_grad():
        return _family.xavier_uniform_(tensor, gain, seed=_seed(generator, seed), stream=stream)


def trunc_normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: torch.Generator | None = None, *,
                  seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.trunc_normal_ (absolute bounds), by inverse CDF: correct in float16 and
    bfloat16 too, and never outside [a, b]."""
    if _is_meta(tensor):
        return _on_meta(_init.trunc_normal_, tensor, generator, seed, mean, std, a, b)
    with torch.no_grad():
        return _api.trunc_normal_(tensor, mean, std, a, b, seed=_seed(generator, seed), stream=stream)


def normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0,
            generator: torch.Generator | None = None, *, seed: int | None = None,
            stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.normal_, filled by fastkaiming."""
    if _is_meta(tensor):
        return _on_meta(_init.normal_, tensor, generator, seed, mean, std)
    with torch.no_grad():
        return _api.normal_(tensor, mean, std, seed=_seed(generator, seed), stream=stream)


def uniform_(tensor: torch.Tensor, a: float = 0.0, b: float = 1.0,
             generator: torch.Generator | None = None, *, seed: int | None = None,
             stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.uniform_, filled by fastkaiming (samples in [a, b])."""
    if _is_meta(tensor):
        return _on_meta(_init.uniform_, tensor, generator, seed, a, b)
    with torch.no_grad():
        return _api.uniform_(tensor, a, b, seed=_seed(generator, seed), stream=stream)


def constant_(tensor: torch.Tensor, val: float) -> torch.Tensor:
    """torch.nn.init.constant_: every element set to `val` (torch's own fill)."""
    return _init.constant_(tensor, val)


def ones_(tensor: torch.Tensor) -> torch.Tensor:
    """torch.nn.init.ones_ (torch's own fill)."""
    return _init.ones_(tensor)


def zeros_(tensor: torch.Tensor) -> torch.Tensor:
    """torch.nn.init.zeros_ (torch's own fill)."""
    return _init.zeros_(tensor)


def eye_(tensor: torch.Tensor) -> torch.Tensor:
    """torch.nn.init.eye_: the identity matrix in a 2-D tensor (torch's own)."""
    return _init.eye_(tensor)


def dirac_(tensor: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """torch.nn.init.dirac_: the Dirac delta in a {3, 4, 5}-D convolution weight, each group of
    output channels preserving the identity of as many input channels as it can.

    torch's checks and values; the ones are written in one indexed store, not one per channel.
    """
    dimensions = tensor.ndimension()
    if dimensions not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.size()
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    if _distributed.is_dtensor(tensor):  # torch's own handles the shards
        return torch.nn.init.dirac_(tensor, groups)
    if tensor.is_meta:
        return tensor
    per_group = sizes[0] // groups
    d = torch.arange(min(per_group, sizes[1]))
    out = (torch.arange(groups)[:, None] * per_group + d).reshape(-1)
    centre = tuple(torch.full_like(out, s // 2) for s in sizes[2:])
    with torch.no_grad():
        tensor.zero_()
        tensor[(out, d.repeat(groups), *centre)] = 1
    return tensor


def _no_dtensor(name: str, tensor: torch.Tensor) -> None:
    if _distributed.is_dtensor(tensor):
        raise TypeError(
            f"{name} factors or permutes the whole tensor and does not fill a DTensor's shards; "
            "fill a plain tensor of the global shape and distribute it "
            "(torch.distributed.tensor.distribute_tensor)"
        )


def _float_scratch(tensor: torch.Tensor) -> np.dtype[Any]:
    """The dtype random matrices are drawn and factored in: float64 for float64, else float32."""
    return np.dtype(np.float64 if tensor.dtype == torch.float64 else np.float32)


def orthogonal_(tensor: torch.Tensor, gain: float = 1, generator: torch.Generator | None = None,
                *, seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.orthogonal_ (Saxe et al. 2013) on a fastkaiming normal matrix.

    torch's algorithm: a (rows, numel / rows) matrix of N(0, 1) samples (fastkaiming's
    ``normal_(seed, stream)``, in float64 for a float64 tensor, else float32), transposed when
    it is wide, factored by ``torch.linalg.qr``; Q's columns multiplied by the signs of R's
    diagonal (Mezzadri 2007, so Q is Haar-distributed), transposed back, copied in and
    multiplied by `gain`. Trailing dimensions are flattened.
    """
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    g = _checks.real("gain", gain)
    _no_dtensor("orthogonal_", tensor)
    if tensor.numel() == 0 or tensor.is_meta:
        if seed is not None and generator is not None:
            raise ValueError("pass either generator= or seed=, not both")
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    flattened = torch.from_numpy(_api.normal_(np.empty((rows, cols), _float_scratch(tensor)),
                                              seed=_seed(generator, seed), stream=stream))  # fmt: skip
    if rows < cols:
        flattened = flattened.t()
    q, r = torch.linalg.qr(flattened)
    q *= torch.diag(r, 0).sign()
    if rows < cols:
        q = q.t()
    with torch.no_grad():
        tensor.copy_(q.reshape(tensor.shape))
        tensor.mul_(g)
    return tensor


def sparse_(tensor: torch.Tensor, sparsity: float, std: float = 0.01,
            generator: torch.Generator | None = None, *, seed: int | None = None,
            stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.sparse_ (Martens 2010): N(0, std^2) with ceil(sparsity * rows) zeros in
    every column of a 2-D tensor.

    The values are fastkaiming's ``normal_(tensor, 0, std, seed, stream)``; in column c the
    zeroed rows are the ceil(sparsity * rows) with the smallest 32-bit words
    ``random_raw(stream=stream_for(f"sparse_/{stream}"))[c * rows + r]`` (ties: the lower row),
    a uniformly random subset as torch's ``randperm`` gives, and a function of the seed.
    """
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    s = _checks.real("sparsity", sparsity)
    if not 0 <= s <= 1:
        raise ValueError(f"sparsity must be in [0, 1] (the fraction of each column set to zero), got {s!r}")
    _no_dtensor("sparse_", tensor)
    if tensor.is_meta:
        if seed is not None and generator is not None:
            raise ValueError("pass either generator= or seed=, not both")
        return tensor
    rows, cols = tensor.shape
    num_zeros = math.ceil(s * rows)
    key = _seed(generator, seed)
    taken: list[int] = []

    def first_stream() -> int:  # resolved once, after normal_'s checks (a Generator's stream)
        taken.append(stream() if callable(stream) else _checks.stream(stream))
        return taken[0]

    with torch.no_grad():
        _api.normal_(tensor, 0.0, std, seed=key, stream=first_stream)  # type: ignore[arg-type]
        if num_zeros and cols:
            words = _api.random_raw(np.empty((cols, rows), np.uint32), seed=key,
                                    stream=stream_for(f"sparse_/{taken[0]}"))  # fmt: skip
            zero_rows = np.argsort(words, axis=1, kind="stable")[:, :num_zeros]
            columns = np.broadcast_to(np.arange(cols)[:, None], zero_rows.shape)
            tensor[torch.from_numpy(zero_rows.reshape(-1)), torch.from_numpy(columns.reshape(-1))] = 0
    return tensor


# ---------------------------------------------------------------------------------------------
# init_module_: one rule per torch.nn layer class, applied to exactly that class.
#
# A rule maps a module to {parameter name: fill}; a fill is (kind, argument):
#   ("const", v)           every element v (torch's own in-place ops)
#   ("uniform", bound)     U(-bound, bound)
#   ("xavier_uniform", 1) / ("xavier_normal", 1)
#   ("embedding", idx)     N(0, 1), then row idx (padding_idx) zero if idx is not None
# Rules return shared dicts where they can: init_module_ costs little per parameter.

Fill = tuple[str, Any]
Rule = Callable[[Any], dict[str, Fill]]
_NO_RULE: dict[str, Fill] = {}

_ONE: Fill = ("const", 1.0)
_ZERO: Fill = ("const", 0.0)
_XAVIER: Fill = ("xavier_uniform", 1.0)
# kaiming_uniform_(a=sqrt(5)): bound = sqrt(3) * gain / sqrt(fan_in), as fastkaiming's own
_LINEAR_GAIN = calculate_gain("leaky_relu", math.sqrt(5))


@functools.lru_cache(maxsize=1024)
def _linear_fills(fan_in: int, bias: bool, zero_bias: bool) -> dict[str, Fill]:
    """Linear and _ConvNd: weight kaiming_uniform_(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    if fan_in == 0:  # the weight has no elements; torch's bias bound is 0
        return {"weight": ("uniform", 0.0), "bias": ("uniform", 0.0)}
    weight: Fill = ("uniform", math.sqrt(3.0) * kaiming_std(_LINEAR_GAIN, float(fan_in)))
    if not bias:
        return {"weight": weight}
    return {"weight": weight, "bias": _ZERO if zero_bias else ("uniform", 1 / math.sqrt(fan_in))}


def _fan_in(weight: torch.Tensor) -> int:
    shape = weight.shape
    return shape[1] if len(shape) == 2 else compute_fans(shape)[0]


def _linear(m: Any) -> dict[str, Fill]:
    own = m._parameters  # not m.weight: Module.__getattr__ costs more than the rest of the rule
    weight = own.get("weight")
    if weight is None:  # weight_norm, spectral_norm, prune: reparametrized, no rule
        return _NO_RULE
    return _linear_fills(_fan_in(weight), own.get("bias") is not None, False)


def _out_proj(m: Any) -> dict[str, Fill]:
    # MultiheadAttention.out_proj: Linear's weight; _reset_parameters zeroes its bias
    own = m._parameters
    weight = own.get("weight")
    if weight is None:
        return _NO_RULE
    return _linear_fills(_fan_in(weight), own.get("bias") is not None, True)


def _bilinear(m: Any) -> dict[str, Fill]:
    weight = m._parameters.get("weight")
    if weight is None:
        return _NO_RULE
    bound: Fill = ("uniform", 1 / math.sqrt(weight.size(1)))
    return {"weight": bound, "bias": bound}


def _embedding(m: Any) -> dict[str, Fill]:
    return {"weight": ("embedding", m.padding_idx)}


_AFFINE = {"weight": _ONE, "bias": _ZERO}


def _affine_norm(m: Any) -> dict[str, Fill]:
    # LayerNorm, GroupNorm, RMSNorm, and the affine part of _NormBase: ones_(weight), zeros_(bias)
    return _AFFINE


def _prelu(m: Any) -> dict[str, Fill]:
    return {"weight": ("const", m.init)}


def _rnn(m: Any) -> dict[str, Fill]:
    # RNNBase, RNNCellBase: every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))
    bound: Fill = ("uniform", 1.0 / math.sqrt(m.hidden_size) if m.hidden_size > 0 else 0.0)
    return dict.fromkeys(m._parameters, bound)


_ATTENTION = {"in_proj_weight": _XAVIER, "q_proj_weight": _XAVIER, "k_proj_weight": _XAVIER,
              "v_proj_weight": _XAVIER, "in_proj_bias": _ZERO, "bias_k": ("xavier_normal", 1.0),
              "bias_v": ("xavier_normal", 1.0)}  # fmt: skip


def _attention(m: Any) -> dict[str, Fill]:
    return _ATTENTION


_nn = torch.nn
_RULES: dict[type, Rule] = {
    **dict.fromkeys((_nn.Linear, _nn.Conv1d, _nn.Conv2d, _nn.Conv3d, _nn.ConvTranspose1d,
                     _nn.ConvTranspose2d, _nn.ConvTranspose3d), _linear),  # fmt: skip
    _nn.modules.linear.NonDynamicallyQuantizableLinear: _out_proj,
    _nn.Bilinear: _bilinear,
    _nn.Embedding: _embedding,
    _nn.EmbeddingBag: _embedding,
    **dict.fromkeys((_nn.BatchNorm1d, _nn.BatchNorm2d, _nn.BatchNorm3d, _nn.SyncBatchNorm,
                     _nn.InstanceNorm1d, _nn.InstanceNorm2d, _nn.InstanceNorm3d, _nn.LayerNorm,
                     _nn.GroupNorm, _nn.RMSNorm), _affine_norm),  # fmt: skip
    _nn.PReLU: _prelu,
    **dict.fromkeys((_nn.RNNBase, _nn.RNN, _nn.LSTM, _nn.GRU, _nn.RNNCellBase, _nn.RNNCell,
                     _nn.LSTMCell, _nn.GRUCell), _rnn),  # fmt: skip
    _nn.MultiheadAttention: _attention,
}
# Their reset_parameters also calls reset_running_stats(): running_mean 0, running_var 1, count 0
_RUNNING_STATS = frozenset((_nn.BatchNorm1d, _nn.BatchNorm2d, _nn.BatchNorm3d, _nn.SyncBatchNorm,
                            _nn.InstanceNorm1d, _nn.InstanceNorm2d, _nn.InstanceNorm3d))  # fmt: skip
_FLOATS = frozenset((torch.float16, torch.bfloat16, torch.float32, torch.float64))


_LAWS: dict[Fill, tuple[int, _api.Law]] = {}


def _law(fill: Fill) -> tuple[int, _api.Law]:
    """The distribution and parameters of a random fill, as its public fill's, cached in _LAWS
    (callers look there first: `_LAWS.get(fill) or _law(fill)`)."""
    kind, arg = fill
    if kind == "uniform":
        law = (_api._UNIFORM, _api.uniform_law(-arg, arg))
    elif kind == "xavier_uniform":
        law = (_api._UNIFORM, _family.xavier_uniform_law(arg))
    elif kind == "xavier_normal":
        law = (_api._NORMAL, _family.xavier_normal_law(arg))
    else:  # embedding: N(0, 1), padding row zero
        law = (_api._NORMAL, _api.normal_law(0.0, 1.0))
    if len(_LAWS) >= 4096:  # one entry per distinct bound: a bound, not a leak
        _LAWS.clear()
    _LAWS[fill] = law
    return law


def _fill_random(p: torch.Tensor, fill: Fill, seed: int, stream: int, threads: int | None) -> None:
    """One fill, as uniform_(p, -bound, bound), xavier_*_(p, gain) or normal_(p) would do it."""
    dist, law = _LAWS.get(fill) or _law(fill)
    _api._fill(p, dist, law, seed=seed, stream=stream, offset=0, threads=threads, dtype=None)
    if fill[0] == "embedding" and fill[1] is not None:
        _zero_row(p, fill[1])


def _zero_row(p: torch.Tensor, row: int) -> None:
    """An Embedding's padding row set to zero."""
    if not _distributed.is_dtensor(p):
        p[row].fill_(0)
        return
    # indexing a DTensor on a sharded dim would zero a redistributed copy
    local, blocks = _distributed.shard_blocks(p)
    for index, start in blocks:
        block = local[index]
        if start[0] <= row < start[0] + block.shape[0]:
            block[row - start[0]].fill_(0)


class _Batch:
    """init_module_'s random fills, checked: those of plain CPU tensors as one batch (one
    binding call), the others (DTensors, CUDA tensors, no elements) fill by fill."""

    def __init__(self, random: list[tuple[torch.Tensor, Fill, str, str]], seed: int,
                 threads: int | None) -> None:  # fmt: skip
        self.requests: list[_api.Request] = []
        self.tensors: list[torch.Tensor] = []  # those of the requests
        self.padded: list[tuple[torch.Tensor, int]] = []  # (Embedding weight, padding row)
        self.each: list[tuple[torch.Tensor, Fill, str]] = []
        self.seed = seed
        self.threads = threads
        known: dict[Any, Any] = {}  # for prepare_whole: parameters of one law, shape and dtype
        for p, fill, mname, pname in random:
            qual = f"{mname}.{pname}" if mname else pname
            plain = type(p) in _PLAIN and p.is_cpu
            if p.dtype not in _FLOATS or not (plain or p.is_cpu or p.is_cuda):
                raise TypeError(
                    f"init_module_ fills '{qual}' at random, which needs a CPU or CUDA float16, "
                    f"bfloat16, float32 or float64 tensor; got {p.dtype} on {p.device}"
                )
            if not plain:  # DTensor, CUDA tensor; another subclass raises
                _check_writable(p, qual)
                self.each.append((p, fill, qual))
                continue
            name, address, shape, steps = _memory(p, qual)
            if 0 in shape:  # its fill warns that it is a no-op
                self.each.append((p, fill, qual))
                continue
            dist, law = _LAWS.get(fill) or _law(fill)
            self.requests.append(_api.prepare_whole(name, address, shape, steps, dist, law, seed,
                                                    stream_for(qual), threads, known))  # fmt: skip
            self.tensors.append(p)
            if fill[0] == "embedding" and fill[1] is not None:
                self.padded.append((p, fill[1]))

    def run(self) -> None:
        """Write: the batch (the tensors are held by self.tensors meanwhile), then the others."""
        try:
            _api.fill_batch(self.requests)
        finally:  # also after a batch stopped part way (Ctrl-C)
            if self.tensors:
                _torch_intake.all_written(self.tensors)
        for p, row in self.padded:
            _zero_row(p, row)
        for p, fill, qual in self.each:
            _fill_random(p, fill, self.seed, stream_for(qual), self.threads)


def _set_constants(tensors: dict[float, list[torch.Tensor]]) -> None:
    """Each list set to its value with torch's in-place ops, which bump the version counters.

    torch._foreach_zero_, and _foreach_copy_ from a 0-d tensor of the value in the target's
    dtype (broadcast), cost about 1-2 us a tensor on the CPU against 4-5 us for fill_ from
    Python; torch's other foreach ops (add_, mul_) are slower than fill_ there.
    """
    for value, group in tensors.items():
        # DTensors (FSDP2, TP): torch has no DTensor rule for _foreach_copy_ from a plain tensor
        sharded = [t for t in group if type(t) not in _PLAIN and _distributed.is_dtensor(t)]
        for t in sharded:
            t.fill_(value)
        if sharded:
            group = [t for t in group if not _distributed.is_dtensor(t)]
            if not group:
                continue
        if value == 0:
            torch._foreach_zero_(group)
            continue
        sources: dict[torch.dtype, torch.Tensor] = {}
        copies = []
        for t in group:
            source = sources.get(t.dtype)
            if source is None:
                source = sources[t.dtype] = torch.full((), value, dtype=t.dtype)
            copies.append(source)
        torch._foreach_copy_(group, copies)


_UNINITIALIZED = _nn.parameter.UninitializedTensorMixin  # type: ignore[attr-defined]
_PLAIN = _torch_intake.PLAIN  # torch.Tensor, nn.Parameter: never a DTensor
_TRANSFORMER = _nn.Transformer
# module class -> (the class rules apply to, its rule or None, running statistics reset?)
_CLASSES: dict[type, tuple[type, Rule | None, bool]] = {}


def _class_of(m: torch.nn.Module) -> tuple[type, Rule | None, bool]:
    """_distributed.unwrapped_class(m), its rule and whether its running statistics are reset,
    cached by type(m)."""
    kind = _distributed.unwrapped_class(m)
    found = _CLASSES[type(m)] = (kind, _RULES.get(kind), kind in _RUNNING_STATS)
    return found


def _unwritable(kind: str, name: str, t: torch.Tensor) -> str:
    """Why `t` (uninitialized or on the meta device) cannot be filled."""
    if isinstance(t, _UNINITIALIZED):
        return (f"{kind} '{name}' is uninitialized (a lazy module); run a forward pass (or "
                "initialize_parameters) first so that its shape is known")  # fmt: skip
    return (f"{kind} '{name}' is on the meta device (no memory); call "
            "module.to_empty(device=...) first, then init_module_")  # fmt: skip


def init_module_(module: torch.nn.Module, *, seed: int, prefix: str = "",
                 unknown: str = "error", threads: int | None = None,
                 check_seed: bool = False) -> torch.nn.Module:  # fmt: skip
    """Re-initialize every parameter of `module` in place, as its layers' reset_parameters
    would, each random parameter on the stream ``stream_for(qualified name)``.

    The values depend only on (seed, qualified name, shape, dtype): not on parameter order,
    and not on who fills what. ``init_module_(model.blocks[3], seed=s, prefix="blocks.3")``
    gives block 3 exactly the values a whole-model call gives it (except inside nn.Transformer,
    whose rule is the whole model's, below).

    Rules apply to exactly these classes (``type(m) is X``; a subclass is unknown), each as its
    reset in torch 2.13:

    - Linear, Conv1/2/3d, ConvTranspose1/2/3d: weight kaiming_uniform_(a=sqrt(5)) (fans as
      torch's: ConvTranspose weights are (in, out/groups, *k), fan_in = size(1) * kernel), bias
      U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Bilinear: weight and bias U(-1/sqrt(in1), 1/sqrt(in1));
    - Embedding, EmbeddingBag: N(0, 1), the padding_idx row zero;
    - BatchNorm1/2/3d, SyncBatchNorm, InstanceNorm1/2/3d: weight 1, bias 0, and their running
      statistics reset (running_mean 0, running_var 1, num_batches_tracked 0); LayerNorm,
      GroupNorm, RMSNorm: weight 1, bias 0; PReLU: its ``init`` value;
    - RNN, LSTM, GRU, their *Cell (and RNNBase, RNNCellBase): every parameter
      U(-1/sqrt(hidden), 1/sqrt(hidden));
    - MultiheadAttention: xavier_uniform_ in_proj_weight (or q/k/v_proj_weight), in_proj_bias 0,
      xavier_normal_ bias_k and bias_v; its out_proj (NonDynamicallyQuantizableLinear): weight
      as Linear's, bias 0;
    - Transformer: as its own _reset_parameters does after building its layers, every parameter
      under it with more than one dimension gets xavier_uniform_ (Linear weights, in_proj_weight,
      out_proj.weight, custom encoder/decoder included); its 1-D parameters follow their layers'
      rules. TransformerEncoder/DecoderLayer outside a Transformer have no rule of their own:
      their layers' rules apply, as when they are built.

    A parameter shared by several modules (tied weights) is filled once, by the rule of its
    first owner in ``named_modules()`` order, on the stream of its first qualified name.

    Every other parameter (a module of another class, a subclass, a parameter registered on a
    container or added to a known layer) is unknown: ``unknown="error"`` raises TypeError
    naming them (nothing is written), ``"skip"`` leaves them and warns with their names,
    ``"reset"`` calls their module's own reset_parameters() or _reset_parameters() (torch's
    generator, not this contract; before the rules run) and warns with those it cannot reset.

    Errors before anything is written: a parameter or buffer on the meta device (call
    ``module.to_empty(device=...)`` first), an uninitialized lazy parameter, a parameter to be
    filled at random that is not a CPU or CUDA float16/bfloat16/float32/float64 tensor.

    ``check_seed=True`` first compares `seed` across the default process group (one all_gather;
    nothing to compare without one) and raises ValueError naming the ranks' seeds if they differ.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str (the module's qualified name), got {type(prefix).__name__}")
    if check_seed:  # first: an argument error on one rank must not leave the others waiting
        _distributed.check_seed(seed)
    _checks.choice("unknown", unknown, ("error", "skip", "reset"))
    key = _checks.seed(seed)
    if threads is not None:
        _checks.threads(threads)

    seen: set[int] = set()
    random: list[tuple[torch.Tensor, Fill, str, str]] = []  # (parameter, fill, module name, name)
    constants: dict[float, list[torch.Tensor]] = {}
    plain_constants: list[torch.Tensor] = []  # plain CPU tensors to set to a constant
    unplain: list[torch.Tensor] = []  # other tensors to set to a constant
    strangers: dict[str, tuple[torch.nn.Module, list[str]]] = {}  # module name -> unclaimed
    xavier: set[int] = set()  # under an nn.Transformer, more than one dimension
    problems: list[str] = []
    for mname, m in module.named_modules(prefix=prefix):
        own = m._parameters
        kind, rule, stats = _CLASSES.get(type(m)) or _class_of(m)
        if kind is _TRANSFORMER:  # its _reset_parameters: xavier_uniform_ on every p.dim() > 1
            xavier.update(id(p) for p in m.parameters() if p.dim() > 1)
        if stats and m.track_running_stats:
            for bname, value in (("running_mean", 0.0), ("running_var", 1.0), ("num_batches_tracked", 0)):
                b = m._buffers.get(bname)
                if b is None:
                    continue
                if b.is_meta or isinstance(b, _UNINITIALIZED):
                    problems.append(_unwritable("buffer", f"{mname}.{bname}" if mname else bname, b))
                elif type(b) not in _PLAIN or not b.is_cpu:
                    unplain.append(b)
                else:
                    plain_constants.append(b)
                constants.setdefault(value, []).append(b)
        if not own:
            continue
        claimed = rule(m) if rule is not None else _NO_RULE
        for pname, p in own.items():
            if p is None:
                continue
            pid = id(p)
            if pid in seen:
                continue
            seen.add(pid)
            fill = _XAVIER if xavier and pid in xavier else claimed.get(pname)
            plain = type(p) in _PLAIN and p.is_cpu  # a plain CPU tensor: neither meta nor lazy
            if not plain and (p.is_meta or isinstance(p, _UNINITIALIZED)):
                problems.append(_unwritable("parameter", f"{mname}.{pname}" if mname else pname, p))
            elif fill is None:
                strangers.setdefault(mname, (m, []))[1].append(f"{mname}.{pname}" if mname else pname)
            elif fill[0] == "const":
                group = constants.get(fill[1])
                if group is None:
                    group = constants[fill[1]] = []
                group.append(p)
                if not plain:
                    unplain.append(p)
                else:
                    plain_constants.append(p)
            else:
                random.append((p, fill, mname, pname))
    if problems:
        raise ValueError(f"init_module_ cannot initialize this module: {problems[0]}"
                         + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))  # fmt: skip

    batch: _Batch | None = _Batch(random, key, threads)
    for t in unplain:
        _check_writable(t, None)
    if _unallocated(plain_constants):
        raise ValueError(_UNALLOCATED)
    if seed is None and any(_distributed.is_dtensor(p) for p, _, _, _ in random):
        raise ValueError(
            "init_module_ on a sharded model (DTensor parameters) needs seed=, the same on every "
            "rank: seed=None would draw a different seed from the OS on each rank"
        )

    unreset: list[str] = []
    if strangers:
        names = [q for _, qs in strangers.values() for q in qs]
        if unknown == "error":
            raise TypeError(
                f"init_module_ has no rule for {_describe(strangers)} (parameters: "
                f"{_listed(names)}); pass unknown='skip' to leave them or unknown='reset' to call "
                "their modules' own reset_parameters()"
            )
        if unknown == "skip":
            warnings.warn(f"init_module_ skipped {len(names)} parameters it has no rule for: "
                          f"{_listed(names)}", UserWarning, stacklevel=2)  # fmt: skip

    with torch.no_grad():
        if unknown == "reset":
            for m, qs in strangers.values():
                reset: Any = None if _distributed.unwrapped_class(m) in _RULES else (
                    getattr(m, "reset_parameters", None) or getattr(m, "_reset_parameters", None))
                if reset is None:
                    unreset += qs
                else:
                    reset()
                    batch = None  # a reset may replace any tensor: checked again below
        if batch is None:
            batch = _Batch(random, key, threads)
        _set_constants(constants)
        batch.run()
    if unreset:
        warnings.warn(f"init_module_ left {len(unreset)} parameters that no rule and no reset "
                      f"method covers: {_listed(unreset)}", UserWarning, stacklevel=2)  # fmt: skip
    return module


def _check_writable(t: torch.Tensor, qual: str | None) -> None:
    """Raise, before init_module_ writes anything, for a tensor a fill would refuse: the
    fastkaiming intake's checks for a random fill (`qual` given), allocated storage for a
    constant one. DTensors: their local shard; CUDA tensors are written by torch's copy_."""
    if _distributed.is_dtensor(t):
        t = _distributed.shard_blocks(t)[0]
    if t.is_cuda:
        return
    if qual is not None:
        _memory(t, qual)
    elif _unallocated([t]):
        raise ValueError(_UNALLOCATED)


_UNALLOCATED = "init_module_ cannot reset a tensor whose data is not allocated yet"


def _unallocated(tensors: list[torch.Tensor]) -> bool:
    """True if a host tensor with elements has a storage that does not hold its first one."""
    return any([t.untyped_storage().nbytes() < (t.storage_offset() + 1) * t.itemsize and t.numel() > 0
                for t in tensors])  # fmt: skip


def _memory(t: torch.Tensor, qual: str) -> tuple[str, int, tuple[int, ...], tuple[int, ...]]:
    """The tensor `t`'s memory, checked as a fill checks it (_torch_intake.memory)."""
    try:
        return _torch_intake.memory(t, None)
    except (TypeError, ValueError) as e:
        raise type(e)(f"init_module_ cannot fill '{qual}': {e}") from None


def _describe(strangers: dict[str, tuple[torch.nn.Module, list[str]]]) -> str:
    """The unknown module classes, saying when one is a subclass of a known class."""
    described = []
    for m, _ in strangers.values():
        kind = _distributed.unwrapped_class(m)
        text = kind.__name__
        if kind in _RULES:
            text += " (parameters its rule does not cover)"
        else:
            base = next((b for b in kind.__mro__[1:] if b in _RULES), None)
            if base is not None:
                text += f" (a subclass of {base.__name__}: rules apply to exact classes only)"
        if text not in described:
            described.append(text)
    return ", ".join(described)


def _listed(names: list[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names) - most} more)" if len(names) > most else "")
