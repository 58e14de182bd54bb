"""init_module_: a whole model re-initialized, each parameter on the stream of its qualified name.

One rule per torch.nn layer class (what its reset_parameters does), a user's rules= (by class or
by parameter-name pattern), FSDP2 checks, and the warning that names every buffer nothing
re-initialized after ``to_empty``.
"""
from __future__ import annotations

import fnmatch
import functools
import inspect
import math
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

from .. import _api, _checks, _family
from .._blocks import stream_for
from .._fans import calculate_gain, compute_fans, kaiming_std
from . import _dropins, _intake, _routing

_init = torch.nn.init


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
    elif kind == "rule":  # a user's rule: (_Spec, padding row or None)
        law = (arg[0].dist, arg[0].law)
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
    row = _padding_row(fill)
    if row is not None:
        _zero_row(p, row)


def _padding_row(fill: Fill) -> int | None:
    """The row a random fill of an Embedding's weight leaves zero (its padding_idx), if any."""
    if fill[0] == "embedding":
        return fill[1]  # type: ignore[no-any-return]
    return fill[1][1] if fill[0] == "rule" else None  # type: ignore[no-any-return]


def _zero_row(p: torch.Tensor, row: int) -> None:
    """An Embedding's padding row set to zero."""
    if not _routing.is_dtensor(p):
        p[row].fill_(0)
        return
    # indexing a DTensor on a sharded dim would zero a redistributed copy
    local, blocks = _routing.shard_blocks(p)
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
                if fill[0] == "rule":  # its law's checks, now, before any write
                    _by_rule(fill, qual, _api._checked_params, fill[1][0].dist, fill[1][0].law,
                             tuple(p.shape), str(p.dtype).removeprefix("torch."))  # fmt: skip
                self.each.append((p, fill, qual))
                continue
            name, address, shape, steps = _memory(p, qual)
            if 0 in shape:  # its fill warns that it is a no-op
                self.each.append((p, fill, qual))
                continue
            dist, law = _LAWS.get(fill) or _law(fill)
            args = (name, address, shape, steps, dist, law, seed, stream_for(qual), threads, known)
            self.requests.append(_api.prepare_whole(*args) if fill[0] != "rule"
                                 else _by_rule(fill, qual, _api.prepare_whole, *args))  # fmt: skip
            self.tensors.append(p)
            row = _padding_row(fill)
            if row is not None:
                self.padded.append((p, row))

    def run(self) -> None:
        """Write: the batch (the tensors are held by self.tensors meanwhile), then the others."""
        try:
            _api.fill_batch(self.requests)
        finally:  # also after a batch stopped part way (Ctrl-C)
            if self.tensors:
                _intake.all_written(self.tensors)
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
        sharded = [t for t in group if type(t) not in _PLAIN and _routing.is_dtensor(t)]
        for t in sharded:
            t.fill_(value)
        if sharded:
            group = [t for t in group if not _routing.is_dtensor(t)]
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
_PLAIN = _intake.PLAIN  # torch.Tensor, nn.Parameter: never a DTensor
_TRANSFORMER = _nn.Transformer
# module class -> (the class rules apply to, its rule or None, running statistics reset?)
Classes = dict[type, tuple[type, Rule | None, bool]]


def _class_of(m: torch.nn.Module, classes: Classes) -> tuple[type, Rule | None, bool]:
    """_routing.unwrapped_class(m), its rule and whether its running statistics are reset,
    kept in `classes` by type(m): one call's memo, so no class outlives the call because of it
    (a module-level cache kept every class ever seen alive; a model has a few classes)."""
    kind = _routing.unwrapped_class(m)
    found = classes[type(m)] = (kind, _RULES.get(kind), kind in _RUNNING_STATS)
    return found


# ---------------------------------------------------------------------------------------------
# init_module_(rules=...): a user's policy, stated with the fills of torch.nn.init.


class _Spec:
    """A random fill a rule asks for: its distribution, its law (shape, dtype -> parameters,
    checked as the public fill checks them) and the rule's text for messages."""

    __slots__ = ("dist", "law", "text")

    def __init__(self, dist: int, law: _api.Law, text: str) -> None:
        self.dist, self.law, self.text = dist, law, text


def _by_rule(fill: Fill, qual: str, call: Callable[..., Any], *args: Any) -> Any:
    """call(*args), its errors naming the parameter and the rule that fills it."""
    try:
        return call(*args)
    except (TypeError, ValueError) as e:
        raise type(e)(f"init_module_ cannot fill '{qual}' by the rule {fill[1][0].text}: {e}") from None


_RULE_FILLS = ("normal_", "uniform_", "trunc_normal_", "kaiming_normal_", "kaiming_uniform_",
               "xavier_normal_", "xavier_uniform_", "constant_", "zeros_", "ones_")  # fmt: skip
# each of those functions, fastkaiming.torch's and torch.nn.init's -> its name
_RULE_NAMES: dict[Any, str] = {f: n for n in _RULE_FILLS for f in (getattr(_dropins, n), getattr(_init, n))}
_DRAWN = ("generator", "seed", "stream")  # what init_module_ decides, never a rule


def _trunc_normal_law(mean: object, std: object, a: object, b: object) -> _api.Law:
    m, sd, lo, hi = (_checks.real(n, v) for n, v in (("mean", mean), ("std", std), ("a", a), ("b", b)))
    if sd <= 0:
        raise ValueError(f"std must be > 0, got {sd!r}")
    if not lo < hi:
        raise ValueError(f"trunc_normal_ expects a < b, got a={lo!r}, b={hi!r}")
    return lambda shape, name: _api._trunc_normal_params(m, sd, lo, hi, name)


def _kaiming_law(a: object, mode: object, nonlinearity: object, uniform: bool) -> _api.Law:
    std = _api._kaiming_std(a, mode, nonlinearity, None, None, 1, 0)
    if uniform:
        return lambda shape, name: _api._uniform_params(-_api._SQRT3 * std(shape), _api._SQRT3 * std(shape))
    return lambda shape, name: _api._normal_params(0.0, std(shape))


def _rule_fill(value: object, where: str) -> Fill:
    """The fill a rule's value states, checked: a number (that constant), one of _RULE_FILLS
    (fastkaiming.torch's or torch.nn.init's), or a functools.partial of one with its arguments."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ("const", _checks.real(where, value))  # finite
    func: Any = value
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if isinstance(value, functools.partial):
        func, args, kwargs = value.func, value.args, value.keywords
    name = _RULE_NAMES.get(func) if callable(func) else None
    if name is None:
        raise TypeError(
            f"{where} must be a number (a constant) or one of fastkaiming.torch's (or torch.nn.init's) "
            f"{', '.join(_RULE_FILLS)}, alone or in a functools.partial with its arguments; got {value!r}"
        )
    try:
        bound = inspect.signature(getattr(_dropins, name)).bind(None, *args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{where}: {name}: {e}") from None
    drawn = [n for n in _DRAWN if n in bound.arguments]
    if drawn:
        raise ValueError(f"{where}: {name} with {drawn[0]}=: init_module_'s seed= and the parameter's "
                         "qualified name choose the random stream")  # fmt: skip
    bound.apply_defaults()
    a = bound.arguments
    given = [repr(v) for v in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    text = f"{where} ({name}({', '.join(given)}))"
    try:
        if name in ("constant_", "zeros_", "ones_"):
            return _rule_fill(a["val"] if name == "constant_" else float(name == "ones_"), where)
        if name == "normal_":
            law = (_api._NORMAL, _api.normal_law(a["mean"], a["std"]))
        elif name == "uniform_":
            law = (_api._UNIFORM, _api.uniform_law(a["a"], a["b"]))
        elif name == "trunc_normal_":
            law = (_api._TRUNC, _trunc_normal_law(a["mean"], a["std"], a["a"], a["b"]))
        elif name.startswith("kaiming"):
            kaiming = _kaiming_law(a["a"], a["mode"], a["nonlinearity"], name == "kaiming_uniform_")
            law = (_api._UNIFORM if name == "kaiming_uniform_" else _api._NORMAL, kaiming)
        elif name == "xavier_normal_":
            law = (_api._NORMAL, _family.xavier_normal_law(a["gain"]))
        else:
            law = (_api._UNIFORM, _family.xavier_uniform_law(a["gain"]))
    except (TypeError, ValueError) as e:
        raise type(e)(f"{where}: {name}: {e}") from None
    return ("rule", (_Spec(law[0], law[1], text), None))


class _Rules:
    """rules= checked: name patterns (fnmatch globs on qualified parameter names, in the order
    given, as one regular expression whose first matching alternative wins) and class rules."""

    def __init__(self, rules: object) -> None:
        if not isinstance(rules, Mapping):
            raise TypeError("rules must be a dict (class or name pattern -> fill), got "
                            f"{type(rules).__name__}")  # fmt: skip
        patterns: list[tuple[str, Fill]] = []
        self.classes: dict[type, Fill | dict[str, Fill]] = {}
        for key, value in rules.items():
            classes = key if isinstance(key, tuple) else (key,)
            if isinstance(key, str):
                patterns.append((key, _rule_fill(value, f"rules[{key!r}]")))
                continue
            if not classes or not all(isinstance(c, type) and issubclass(c, _nn.Module) for c in classes):
                raise TypeError(f"rules keys are torch.nn.Module classes, tuples of them, or name patterns "
                                f"(str); got {key!r}")  # fmt: skip
            named = ", ".join(c.__name__ for c in classes)
            where = f"rules[({named})]" if isinstance(key, tuple) else f"rules[{named}]"
            if isinstance(value, Mapping):
                per_name: dict[str, Fill] = {}
                for pname, v in value.items():
                    if not isinstance(pname, str):
                        raise TypeError(f"{where}: parameter names are str, got {pname!r}")
                    per_name[pname] = _rule_fill(v, f"{where}[{pname!r}]")
                fills: Fill | dict[str, Fill] = per_name
            else:
                fills = _rule_fill(value, where)
            for c in classes:
                self.classes[c] = fills
        self.patterns = [f for _, f in patterns]
        self.match = re.compile("|".join(f"(?P<r{i}>{fnmatch.translate(p)})" for i, (p, _) in
                                         enumerate(patterns))).match if patterns else None  # fmt: skip
        self.by_class: dict[type, Fill | dict[str, Fill] | None] = {}  # per module class: its rule

    def fill(self, qual: str, m: torch.nn.Module, kind: type, pname: str) -> Fill | None:
        """The fill the rules give parameter `pname` of module `m` (class `kind`), or None."""
        found = self.match(qual) if self.match is not None else None
        fill: Fill | None
        if found is not None:
            fill = self.patterns[int(found.lastgroup[1:])]  # type: ignore[index]
        else:
            if kind not in self.by_class:
                self.by_class[kind] = next((self.classes[c] for c in kind.__mro__ if c in self.classes), None)
            rule = self.by_class[kind]
            fill = rule.get(pname) if isinstance(rule, dict) else rule
        if fill is not None and fill[0] == "rule" and pname == "weight" and isinstance(m, _EMBEDDINGS):
            row = m.padding_idx
            if row is not None:  # the padding row stays zero, as torch's and transformers' inits leave it
                fill = ("rule", (fill[1][0], row))
        return fill


_EMBEDDINGS = (torch.nn.Embedding, torch.nn.EmbeddingBag)


def _unwritable(kind: str, name: str, t: torch.Tensor) -> str:
    """Why `t` (uninitialized or on the meta device) cannot be filled."""
    if isinstance(t, _UNINITIALIZED):
        return (f"{kind} '{name}' is uninitialized (a lazy module); run a forward pass (or "
                "initialize_parameters) first so that its shape is known")  # fmt: skip
    return (f"{kind} '{name}' is on the meta device (no memory); pass device= to materialize the "
            "module (init_module_ then names the buffers nothing re-initialized), or call "
            "module.to_empty(device=...) first")  # fmt: skip


def init_module_(module: torch.nn.Module, *, seed: int, prefix: str = "",
                 unknown: str = "error", threads: int | None = None,
                 check_seed: bool = False, group: Any = None, timeout: float | None = None,
                 rules: Mapping[Any, Any] | None = None,
                 device: str | torch.device | None = None) -> torch.nn.Module:  # fmt: skip
    """Re-initialize every parameter of `module` in place, as its layers' reset_parameters
    would or as `rules` say, each random parameter on the stream ``stream_for(qualified name)``.

    The values depend only on (seed, qualified name, shape, dtype, the fill): not on parameter
    order, and not on who fills what. ``init_module_(model.blocks[3], seed=s, prefix="blocks.3")``
    gives block 3 exactly the values a whole-model call gives it (except inside nn.Transformer,
    whose rule is the whole model's, below).

    Built-in rules apply to exactly these classes (``type(m) is X``; a subclass is unknown),
    each as its reset in torch 2.13:

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
    first owner in ``named_modules()`` order, on the stream of its first qualified name (which
    name patterns are matched against).

    Parameters
    ----------
    module : torch.nn.Module
        The model, filled in place. FSDP2 and tensor-parallel DTensor parameters are filled shard
        by shard (the same full tensors on any mesh); CUDA parameters through host staging.
    seed : int
        The key of every random fill, in [0, 2**64); the same on every rank of a sharded model.
    prefix : str, optional
        The qualified name of `module` inside a larger model, so that a part gets the values a
        whole-model call gives it.
    unknown : {"error", "skip", "reset"}, optional
        What to do with parameters neither `rules` nor a built-in rule covers (a module of
        another class, a subclass, a parameter registered on a container or added to a known
        layer): "error" raises TypeError naming them (nothing is written), "skip" leaves them
        and warns with their names, "reset" calls their module's own reset_parameters() or
        _reset_parameters() (torch's generator, not this contract; before the rules run) and
        warns with those it cannot reset.
    threads : int or None, optional
        Threads for the large fills (None: the usable cores; small fills run on one).
    check_seed : bool, optional
        First compare `seed` across the ranks of `group` and raise ValueError naming each
        rank's seed if they differ (nothing to compare without an initialized process group).
        Each rank writes its seed to the process group's store and waits for the others' (no
        collective on the group's devices).
    group : torch.distributed.ProcessGroup or None, optional
        The ranks `check_seed` compares: those that initialize this module (a pipeline stage's,
        for one). None: the default process group. Only with ``check_seed=True``.
    timeout : float or None, optional
        Seconds `check_seed` waits for every rank of `group` (None: 300); then it raises
        RuntimeError naming the ranks that did not call it, on every rank that did. Only with
        ``check_seed=True``.
    rules : dict or None, optional
        A policy of your own, applied before the built-in rules. Keys:

        - a name pattern (str): an ``fnmatch`` glob (case-sensitive, ``*`` crosses dots)
          matched against the whole qualified parameter name (with `prefix`), e.g.
          ``"*.bias"``, ``"*norm*.weight"``, ``"lm_head.weight"``;
        - a ``torch.nn.Module`` class, or a tuple of them: its instances and those of its
          subclasses (FSDP2-wrapped ones too; the class nearest in the MRO wins). The value is
          one fill for every parameter the module owns, or a dict {parameter name: fill} for
          some of them (the others fall through to the built-in rules).

        A fill (the value) is a number (that constant), or one of this module's (or
        torch.nn.init's) normal_, uniform_, trunc_normal_, kaiming_normal_, kaiming_uniform_,
        xavier_normal_, xavier_uniform_, constant_, zeros_, ones_: alone for its defaults, or in
        ``functools.partial`` with the arguments it takes after the tensor (not generator, seed
        or stream: the random stream is ``stream_for(qualified name)`` under `seed`). Every rule
        is checked when init_module_ starts, and what depends on a parameter's shape and dtype
        (the fans of kaiming and xavier, the dtype's range) before anything is written; the
        errors name the rule. Precedence: the first name pattern (in the order given) that
        matches, else the nearest class rule, else the built-in rule. A random rule on the
        weight of an Embedding or EmbeddingBag leaves its padding_idx row zero, as torch's and
        transformers' inits do. Random rules keep the batched fill (one binding call for the
        plain CPU tensors).
    device : str or torch.device or None, optional
        Materialize a module built on the meta device first (``module.to_empty(device)``), and
        afterwards warn, naming them, about the buffers it allocated that nothing wrote since:
        their memory is uninitialized (a non-persistent buffer computed in ``__init__``, such as
        a rotary embedding's ``inv_freq`` or BERT's ``position_ids``). Only the buffers
        init_module_ allocated itself are named (a buffer counts as written when its autograd
        version moved, as BatchNorm's reset running statistics do), so the warning never fires
        on a normally built model; after your own ``to_empty`` no such warning can be given,
        since uninitialized memory looks like any values. A module with no meta tensor is left
        as it is; one with some tensors on meta and some holding data raises ValueError.

    Returns
    -------
    torch.nn.Module
        `module`, filled.

    Raises
    ------
    TypeError
        A bad argument type, a parameter no rule covers (``unknown="error"``), a malformed rule.
    ValueError
        Before anything is written: a bad argument value or rule argument; a parameter or
        buffer on the meta device (pass ``device=``, or call ``module.to_empty(device=...)``
        first); an uninitialized lazy parameter; a parameter to be filled at random that is
        not a CPU or CUDA float16/bfloat16/float32/float64 tensor; an FSDP2 module holding its
        temporary unsharded parameters (after a forward with reshard_after_forward=False or
        unshard()): reshard() frees them, so values written there would be lost. init_module_
        raises rather than reshard itself: resharding changes the state of the caller's
        training step, and the fix is one line (``m.reshard()`` on every FSDPModule ``m``;
        it is not recursive). With ``check_seed=True``: seeds that differ across ranks.
    RuntimeError
        With ``check_seed=True``: ranks of `group` that did not call it within `timeout`.

    Warns
    -----
    UserWarning
        Parameters skipped (``unknown="skip"``) or not reset (``unknown="reset"``); buffers
        materialized by ``device=`` that nothing re-initialized.

    Examples
    --------
    >>> import functools, torch
    >>> from fastkaiming import torch as init
    >>> model = torch.nn.Sequential(torch.nn.Embedding(100, 16), torch.nn.Linear(16, 16),
    ...                             torch.nn.LayerNorm(16))
    >>> _ = init.init_module_(model, seed=0)                       # torch's per-layer defaults
    >>> policy = {(torch.nn.Linear, torch.nn.Embedding): functools.partial(init.normal_, std=0.02),
    ...           "*.bias": 0, torch.nn.LayerNorm: {"weight": 1}}
    >>> _ = init.init_module_(model, seed=0, rules=policy)
    >>> round(model[1].weight.std().item(), 2), model[1].bias.abs().max().item()
    (0.02, 0.0)
    >>> with torch.device("meta"):
    ...     big = torch.nn.Sequential(torch.nn.Linear(16, 16))
    >>> _ = init.init_module_(big, seed=0, device="cpu")         # to_empty, then the fills
    >>> torch.equal(big[0].weight, init.init_module_(torch.nn.Sequential(torch.nn.Linear(16, 16)),
    ...                                              seed=0)[0].weight)
    True
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str (the module's qualified name), got {type(prefix).__name__}")
    if check_seed:  # first: an argument error on one rank must not leave the others waiting
        _routing.check_seed(seed, group, timeout)
    elif group is not None or timeout is not None:
        raise ValueError("group= and timeout= apply to check_seed=True only")
    _checks.choice("unknown", unknown, ("error", "skip", "reset"))
    key = _checks.seed(seed)
    if threads is not None:
        _checks.threads(threads)
    user = _Rules(rules) if rules is not None else None
    fresh = _materialize(module, prefix, device) if device is not None else []

    seen: set[int] = set()
    random: list[tuple[torch.Tensor, Fill, str, str]] = []  # (parameter, fill, module name, name)
    constants: dict[float, list[torch.Tensor]] = {}
    plain_constants: list[torch.Tensor] = []  # plain CPU tensors to set to a constant
    unplain: list[torch.Tensor] = []  # other tensors to set to a constant
    strangers: dict[str, tuple[torch.nn.Module, list[str]]] = {}  # module name -> unclaimed
    xavier: set[int] = set()  # under an nn.Transformer, more than one dimension
    problems: list[str] = []
    classes: Classes = {}
    # FSDP2's temporary parameters: also reached through a module FSDP2 does not wrap itself
    held = _routing.fsdp_temporaries() if _routing.FSDP_STATES in sys.modules else None
    for mname, m in module.named_modules(prefix=prefix):
        own = m._parameters
        kind, rule, stats = classes.get(type(m)) or _class_of(m, classes)
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
        if kind is not type(m):  # FSDP2's fully_shard or replicate wraps m
            problem = _fsdp_problem(m, mname)
            if problem:
                problems.append(problem)
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
            fill = None if user is None else user.fill(f"{mname}.{pname}" if mname else pname, m, kind, pname)
            if fill is None:
                fill = _XAVIER if xavier and pid in xavier else claimed.get(pname)
            plain = type(p) in _PLAIN and p.is_cpu  # a plain CPU tensor: neither meta nor lazy
            if not plain and (p.is_meta or isinstance(p, _UNINITIALIZED)):
                problems.append(_unwritable("parameter", f"{mname}.{pname}" if mname else pname, p))
            elif held and _routing.held_by_fsdp(p, held):
                qual = f"{mname}.{pname}" if mname else pname
                problems.append(f"parameter '{qual}' is FSDP2's temporary unsharded copy of "
                                f"{_routing.held_by_fsdp(p, held)}" + _RESHARD)  # fmt: skip
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
    if seed is None and any(_routing.is_dtensor(p) for p, _, _, _ in random):
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
                "their modules' own reset_parameters(), or give them rules="
            )
        if unknown == "skip":
            warnings.warn(f"init_module_ skipped {len(names)} parameters it has no rule for: "
                          f"{_listed(names)}", UserWarning, stacklevel=2)  # fmt: skip

    with torch.no_grad():
        if unknown == "reset":
            for m, qs in strangers.values():
                reset: Any = None if _routing.unwrapped_class(m) in _RULES else (
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
    unset = [qual for qual, owner, bname, t, version in fresh
             if owner._buffers.get(bname) is t and t._version == version]
    if unset:
        warnings.warn(
            f"init_module_ materialized {len(unset)} buffers that nothing re-initialized: "
            f"{_listed(unset)}; their memory is uninitialized (to_empty allocates, it does not "
            "compute them): set them as the model's own code does (e.g. a rotary embedding's "
            "inv_freq, position_ids = arange) or load them from a state dict",
            UserWarning, stacklevel=2,
        )  # fmt: skip
    return module


def _materialize(module: torch.nn.Module, prefix: str,
                 device: object) -> list[tuple[str, torch.nn.Module, str, torch.Tensor, int]]:  # fmt: skip
    """init_module_(device=...): Module.to_empty(device) on a module built on the meta device;
    (qualified name, owner, name, tensor, autograd version) of every buffer it allocated, so
    that those still unwritten at the end can be named. A module with no meta tensor is left
    as it is; one with both meta tensors and tensors that hold data is an error (to_empty would
    replace the data with uninitialized memory)."""
    try:
        where = torch.device(device)  # type: ignore[call-overload]
    except (TypeError, RuntimeError) as e:
        raise ValueError(f"device must be a torch device (or its name) to materialize the module on, "
                         f"got {device!r} ({e})") from None  # fmt: skip
    if where.type == "meta":
        raise ValueError("device='meta' does not materialize anything; pass the device to allocate on")
    buffers = list(module.named_buffers(prefix=prefix))
    tensors = [(n, t) for n, t in (*module.named_parameters(prefix=prefix), *buffers)]
    on_meta = [n for n, t in tensors if t.is_meta]
    if not on_meta:
        return []
    if len(on_meta) < len(tensors):
        held = [n for n, t in tensors if not t.is_meta]
        raise ValueError(
            f"init_module_(device=...) materializes a module built on the meta device, but "
            f"{_listed(held)} hold data (to_empty would replace it with uninitialized memory); "
            "move them to the meta device too, or call to_empty yourself"
        )
    owners = {f"{mname}.{b}" if mname else b: (m, b) for mname, m in module.named_modules(prefix=prefix)
              for b in m._buffers}  # fmt: skip
    module.to_empty(device=where)
    fresh = []
    for qual, _ in buffers:
        owner, bname = owners[qual]
        t = owner._buffers[bname]
        if t is not None:
            fresh.append((qual, owner, bname, t, t._version))
    return fresh


def _fsdp_problem(m: torch.nn.Module, mname: str) -> str | None:
    """Why init_module_ cannot write the parameters of FSDP2 module `m`, if it cannot: they are
    temporary unsharded copies (after a forward with reshard_after_forward=False, or unshard()),
    which reshard() frees. init_module_ raises rather than reshard: reshard() changes the state
    of the caller's training step (the next backward, tensors it holds), and it is one line for
    the caller."""
    state = _routing.fsdp_state(m)
    try:
        held = bool(_routing.fsdp_unsharded(state)) if state is not None else None
    except AttributeError:  # another torch's FSDP2: what its public state shows
        held = None
    if held is None:  # the sharded parameters (of m and the modules under it) are DTensors
        held = any(not _routing.is_dtensor(p) for p in m.parameters())
    if not held:
        return None
    return (f"{repr(mname) if mname else 'the module'} ({type(m).__name__}) holds FSDP2's temporary "
            "unsharded parameters" + _RESHARD)


_RESHARD = (" (after a forward with reshard_after_forward=False, or unshard()), which reshard() "
            "frees: values written there would be lost; call reshard() on every FSDP module first "
            "(FSDPModule.reshard is not recursive: for m in model.modules(): if isinstance(m, "
            "FSDPModule): m.reshard())")  # fmt: skip


def _check_writable(t: torch.Tensor, qual: str | None) -> None:
    """Raise, before init_module_ writes anything, for a tensor a fill would refuse: the
    fastkaiming intake's checks for a random fill (`qual` given), allocated storage for a
    constant one. DTensors: their local shard; CUDA tensors are written by torch's copy_."""
    if _routing.is_dtensor(t):
        t = _routing.shard_blocks(t)[0]
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
    """The tensor `t`'s memory, checked as a fill checks it (_intake.memory)."""
    try:
        return _intake.memory(t, None)
    except (TypeError, ValueError) as e:
        raise type(e)(f"init_module_ cannot fill '{qual}': {e}") from None


def _describe(strangers: dict[str, tuple[torch.nn.Module, list[str]]]) -> str:
    """The unknown module classes, saying when one is a subclass of a known class."""
    described = []
    for m, _ in strangers.values():
        kind = _routing.unwrapped_class(m)
        text = kind.__name__
        if kind in _RULES:
            text += " (parameters its rule does not cover)"
        else:
            base = next((b for b in kind.__mro__[1:] if b in _RULES), None)
            if base is not None:
                text += f" (a subclass of {base.__name__}: built-in rules apply to exact classes only)"
        if text not in described:
            described.append(text)
    return ", ".join(described)


def _listed(names: list[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names) - most} more)" if len(names) > most else "")
