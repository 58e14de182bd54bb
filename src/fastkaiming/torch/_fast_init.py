"""fast_init: a model library's own initialization, its random fills served by fastkaiming.

How calls reach fastkaiming (torch 2.13):

- A ``torch.overrides.TorchFunctionMode`` (``_Router``) sees every torch function and Tensor
  method called in its thread while it is on torch's mode stack. It serves ``Tensor.normal_``
  and ``Tensor.uniform_`` (what torch.nn.init's kaiming_normal_, xavier_* and orthogonal_ call,
  and what init code calls directly: ``weight.data.normal_(0, 0.02)``), and
  ``torch.nn.init.normal_``, ``uniform_`` and ``kaiming_uniform_``, which hand themselves to
  the mode (``handle_torch_function``) before they do anything, whatever name a library
  reached them by (``from torch.nn.init import normal_``, transformers' table of them).
- ``torch.nn.init.trunc_normal_`` does not: its rejection sampler (``_no_grad_trunc_normal_``,
  looked up as a module global on every call) is replaced while any fast_init is active by a
  function that serves the call in a thread with an active fast_init and calls torch's own in
  every other. timm's ``_trunc_normal_`` (the body of ``timm.layers.trunc_normal_`` and
  ``trunc_normal_tf_``) likewise, when timm is imported. Both are put back when the last
  fast_init exits, on an exception too.

A call is served only if fastkaiming can write it exactly: a plain CPU or CUDA tensor, or a
DTensor, of float16/bfloat16/float32/float64 that the intake accepts, no ``generator=``, and
(for the Tensor methods) no autograd recording (grad mode on and ``requires_grad``). Every
other call runs as torch would and is counted in the report; ``strict=True`` raises instead.
Calls on meta tensors are torch's (no data) and counted apart.
"""
from __future__ import annotations

import contextlib
import math
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from .. import _api, _checks
from .._blocks import stream_for
from . import _intake, _routing

__all__ = ["FastInitReport", "fast_init"]

_init = torch.nn.init
_FLOATS = frozenset((torch.float16, torch.bfloat16, torch.float32, torch.float64))
_PLAIN = _intake.PLAIN
_META = "meta"  # a refusal that is not a let-through: torch's own no-op on a meta tensor
_EMPTY = "empty"  # nor this: torch's own no-op on a tensor with no elements
_OWN_GENERATOR = ("torch's own generator (fastkaiming serves normal_, uniform_ and the "
                  "torch.nn.init functions)")  # fmt: skip

# torch's other random functions: not served (no fastkaiming law is the same), counted
_TORCH_RANDOM = {
    f: f"{owner}.{f.__name__}"
    for owner, fs in (
        ("torch", (torch.rand, torch.randn, torch.randint, torch.randperm, torch.normal,
                   torch.bernoulli, torch.multinomial, torch.rand_like, torch.randn_like,
                   torch.randint_like, torch.poisson)),
        ("Tensor", (torch.Tensor.random_, torch.Tensor.bernoulli_, torch.Tensor.exponential_,
                    torch.Tensor.geometric_, torch.Tensor.log_normal_, torch.Tensor.cauchy_)),
    )
    for f in fs
}  # fmt: skip


# torch.nn.init's functions that call handle_torch_function with their module global
_DISPATCHING = {"normal_": _init.normal_, "uniform_": _init.uniform_,
                "kaiming_uniform_": _init.kaiming_uniform_}  # fmt: skip


class FastInitReport:
    """What a :func:`fast_init` block routed to fastkaiming and what it let torch do.

    Attributes
    ----------
    routed : int
        Random fills written by fastkaiming.
    meta : int
        Random fills on meta tensors, left to torch (a no-op: no data).
    empty : int
        Random fills of tensors with no elements, left to torch (a no-op).
    let_through : collections.Counter
        ``(call, reason) -> count`` for every random call torch served itself.
    """

    def __init__(self) -> None:
        self.routed = 0
        self.meta = 0
        self.empty = 0
        self.let_through: Counter[tuple[str, str]] = Counter()

    @property
    def passed(self) -> int:
        """The number of random calls torch served itself (the sum of ``let_through``)."""
        return sum(self.let_through.values())

    def __repr__(self) -> str:
        return (f"FastInitReport(routed={self.routed}, meta={self.meta}, empty={self.empty}, "
                f"let_through={self.passed})")  # fmt: skip

    def __str__(self) -> str:
        lines = [repr(self)]
        lines += [f"  {n} x {call}: {why}" for (call, why), n in self.let_through.most_common()]
        return "\n".join(lines)


class NotServedError(RuntimeError):
    """Raised by ``fast_init(strict=True)`` for a random call fastkaiming cannot serve exactly."""


def _bind(names: tuple[str, ...], defaults: tuple[Any, ...], args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> list[Any]:  # fmt: skip
    """Positional `args` and keyword `kwargs` as one value per name (missing: its default)."""
    values = list(args) + list(defaults[len(args):])
    for i, name in enumerate(names):
        if name in kwargs:
            values[i] = kwargs[name]
    return values


class _Router(TorchFunctionMode):
    """The mode one fast_init block pushes: serves the random fills of its thread."""

    def __init__(self, seed: int, names: dict[int, str] | None, module: torch.nn.Module | None,
                 strict: bool, threads: int | None) -> None:  # fmt: skip
        super().__init__()
        self.seed = seed
        self.names = names  # id(parameter or buffer) -> its first qualified name
        self.module = module
        self.by_memory: dict[tuple[Any, ...], str] | None = None
        self.strict = strict
        self.threads = threads
        self.calls = 0  # the next call-order stream
        self.passing = False  # True while torch's own code runs for a call let through
        self.report = FastInitReport()
        self.handlers: dict[Any, Callable[..., Any]] = {
            torch.Tensor.normal_: self._tensor_normal,
            torch.Tensor.uniform_: self._tensor_uniform,
            _init.normal_: self._init_normal,
            _init.uniform_: self._init_uniform,
            _init.kaiming_uniform_: self._init_kaiming_uniform,
        }

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:  # fmt: skip
        kwargs = kwargs or {}
        if not self.passing:
            handler = self.handlers.get(func) or self._dispatched(func)
            if handler is not None:
                return handler(func, args, kwargs)
            name = _TORCH_RANDOM.get(func)
            if name is not None:
                return self._torch_random(name, func, args, kwargs)
        return func(*args, **kwargs)

    def _torch_random(self, name: str, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """One of torch's other random functions, run by torch and counted (unless its tensor is
        a meta tensor). An in-place method is counted, or refused by strict, before it writes."""
        target = args[0] if name.startswith("Tensor.") and args else None
        if target is not None and not getattr(target, "is_meta", False):
            self._let_through(name, _OWN_GENERATOR)
            return func(*args, **kwargs)
        out = func(*args, **kwargs)
        if isinstance(out, torch.Tensor) and out.is_meta:
            self.report.meta += 1
        else:
            self._let_through(name, _OWN_GENERATOR)  # a new tensor: nothing of the caller's written
        return out

    def _dispatched(self, func: Any) -> Callable[..., Any] | None:
        """The handler for `func` if it is what torch.nn.init's own normal_, uniform_ or
        kaiming_uniform_ hand to the mode: the module's global of that name, which a library may
        have replaced (transformers' guard_torch_init_functions puts its wrappers there)."""
        name = getattr(func, "__name__", None)
        if name in _DISPATCHING and func is getattr(_init, name, None):
            return self.handlers[_DISPATCHING[name]]
        return None

    # -- the calls served --------------------------------------------------------------------

    def _tensor_normal(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t, mean, std = _bind(("self", "mean", "std"), (None, 0.0, 1.0), args, kwargs)
        return self.serve("Tensor.normal_", _api.normal_, t, (mean, std), kwargs.get("generator"),
                          lambda: func(*args, **kwargs), grad=True)  # fmt: skip

    def _tensor_uniform(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t, a, b = _bind(("self", "from", "to"), (None, 0.0, 1.0), args, kwargs)
        return self.serve("Tensor.uniform_", _api.uniform_, t, (a, b), kwargs.get("generator"),
                          lambda: func(*args, **kwargs), grad=True)  # fmt: skip

    def _init_normal(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t, mean, std, generator = _bind(("tensor", "mean", "std", "generator"),
                                        (None, 0.0, 1.0, None), args, kwargs)  # fmt: skip
        return self.serve("torch.nn.init.normal_", _api.normal_, t, (mean, std), generator,
                          lambda: func(*args, **kwargs))  # fmt: skip

    def _init_uniform(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t, a, b, generator = _bind(("tensor", "a", "b", "generator"), (None, 0.0, 1.0, None),
                                   args, kwargs)  # fmt: skip
        return self.serve("torch.nn.init.uniform_", _api.uniform_, t, (a, b), generator,
                          lambda: func(*args, **kwargs))  # fmt: skip

    def _init_kaiming_uniform(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t, a, mode, nonlinearity, generator = _bind(
            ("tensor", "a", "mode", "nonlinearity", "generator"),
            (None, 0, "fan_in", "leaky_relu", None), args, kwargs)  # fmt: skip
        if not isinstance(t, torch.Tensor) or 0 in t.shape:  # torch's warning for 0 elements
            return func(*args, **kwargs)
        # torch's own arithmetic for the bound (and its errors for a bad mode or nonlinearity)
        bound = math.sqrt(3.0) * _init.calculate_gain(nonlinearity, a) / math.sqrt(
            _init._calculate_correct_fan(t, mode))  # fmt: skip
        return self.serve("torch.nn.init.kaiming_uniform_", _api.uniform_, t, (-bound, bound),
                          generator, lambda: func(*args, **kwargs))  # fmt: skip

    def trunc(self, call: str, torch_own: Callable[..., Any], t: Any, mean: float, std: float,
              a: float, b: float, generator: Any) -> Any:  # fmt: skip
        """A truncated normal N(mean, std^2) on [a, b]; `torch_own()` if it cannot be served."""
        return self.serve(call, _api.trunc_normal_, t, (mean, std, a, b), generator, torch_own)

    # -- routing -----------------------------------------------------------------------------

    def serve(self, call: str, fill: Callable[..., Any], t: Any, law: tuple[Any, ...],
              generator: Any, torch_own: Callable[[], Any], grad: bool = False) -> Any:  # fmt: skip
        """Fill `t` with fastkaiming's `fill` of `law` if that is exact, else `torch_own()`."""
        why = self._refusal(t, generator, grad)
        if why is None:
            self.passing = True  # the fill's own torch calls (trunc: in the mode) go by
            try:
                with torch.no_grad():
                    fill(t, *law, seed=self.seed, stream=self._stream(t), threads=self.threads)
            except (TypeError, ValueError) as e:  # the fills check everything before writing
                why = str(e)
            else:
                self.report.routed += 1
                return t
            finally:
                self.passing = False
        if why is _META or why is _EMPTY:
            setattr(self.report, why, getattr(self.report, why) + 1)
        else:
            self._let_through(call, why)
        self.passing = True
        try:
            return torch_own()
        finally:
            self.passing = False

    def _refusal(self, t: Any, generator: Any, grad: bool) -> str | None:
        """Why fastkaiming cannot serve a fill of `t` exactly; None if it can."""
        if type(t) in _PLAIN:
            local = t
        elif _routing.is_dtensor(t):
            local = t._local_tensor
        else:
            return f"a {type(t).__name__}, not a plain tensor or a DTensor"
        if local.is_meta:
            return _META
        if generator is not None:
            return "generator= given (torch's stream from that generator cannot be reproduced)"
        if t.dtype not in _FLOATS:
            return f"dtype {t.dtype} (fastkaiming fills float16, bfloat16, float32, float64)"
        if local.device.type not in ("cpu", "cuda"):
            return f"a tensor on {local.device}"
        if grad and t.requires_grad and torch.is_grad_enabled():
            return "autograd records this in-place op (grad mode on and requires_grad)"
        if t.numel() == 0:
            return _EMPTY
        return None

    def _let_through(self, call: str, why: str) -> None:
        if self.strict:
            raise NotServedError(f"fast_init(strict=True): {call} cannot be served exactly by "
                                 f"fastkaiming: {why}")  # fmt: skip
        self.report.let_through[(call, why)] += 1

    def _stream(self, t: Any) -> int:
        """The stream of `t`: its qualified name's if it is (the memory of) a parameter or
        buffer of the module, else the next call-order stream."""
        if self.names is not None:
            name = self.names.get(id(t))
            if name is None:
                key = _memory_key(t)
                if key is not None:
                    if self.by_memory is None or key not in self.by_memory:
                        self.by_memory = _memory_names(self.module)  # tensors may have moved
                    name = self.by_memory.get(key)
            if name is not None:
                return stream_for(name)
        stream = self.calls
        self.calls += 1
        return stream


def _memory_key(t: Any) -> tuple[Any, ...] | None:
    """What identifies the memory a fill of `t` writes, in its element order: (address, count,
    dtype) when contiguous (any view shape walks it in the same order), else address, shape and
    strides. None for tensors without data."""
    local = t._local_tensor if _routing.is_dtensor(t) else t
    if type(local) not in _PLAIN or local.is_meta:
        return None
    ptr = local.data_ptr()
    if ptr == 0:
        return None
    if local.is_contiguous():
        return (ptr, local.numel(), local.dtype)
    return (ptr, tuple(local.shape), local.stride(), local.dtype)


def _named(module: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """Parameters then buffers, each once, under its first qualified name."""
    seen: set[int] = set()
    for name, t in (*module.named_parameters(), *module.named_buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            yield name, t


def _memory_names(module: Any) -> dict[tuple[Any, ...], str]:
    found: dict[tuple[Any, ...], str] = {}
    for name, t in _named(module):
        key = _memory_key(t)
        if key is not None:
            found.setdefault(key, name)
    return found


# -- module globals replaced while a fast_init is active ------------------------------------------

def _innermost() -> _Router | None:
    """This thread's innermost active fast_init router, unless it is letting a call through."""
    for mode in reversed(torch.overrides._get_current_function_mode_stack()):
        if isinstance(mode, _Router):
            return None if mode.passing else mode
    return None


def _torch_trunc(tensor: Any, mean: float, std: float, a: float, b: float,
                 generator: Any = None) -> Any:  # fmt: skip
    """Replaces torch.nn.init._no_grad_trunc_normal_ (the body of trunc_normal_)."""
    router = _innermost()
    own = _SAVED[("torch.nn.init", "_no_grad_trunc_normal_")]
    if router is None:
        return own(tensor, mean, std, a, b, generator=generator)
    return router.trunc("torch.nn.init.trunc_normal_",
                        lambda: own(tensor, mean, std, a, b, generator=generator),
                        tensor, mean, std, a, b, generator)  # fmt: skip


def _timm_trunc(tensor: Any, mean: float, std: float, a: float, b: float) -> Any:
    """Replaces timm.layers.weight_init._trunc_normal_ (inverse CDF on torch's uniform_,
    the body of timm's trunc_normal_ and trunc_normal_tf_)."""
    router = _innermost()
    own = _SAVED[("timm.layers.weight_init", "_trunc_normal_")]
    if router is None:
        return own(tensor, mean, std, a, b)
    return router.trunc("timm.layers.trunc_normal_", lambda: own(tensor, mean, std, a, b),
                        tensor, mean, std, a, b, None)  # fmt: skip


_REPLACEMENTS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch.nn.init", "_no_grad_trunc_normal_"): _torch_trunc,
    ("timm.layers.weight_init", "_trunc_normal_"): _timm_trunc,
}
_SAVED: dict[tuple[str, str], Callable[..., Any]] = {}
_LOCK = threading.Lock()
_users = 0


def _install() -> None:
    global _users
    with _LOCK:
        if _users == 0:
            for (where, name), ours in _REPLACEMENTS.items():
                module = sys.modules.get(where)
                if module is not None and hasattr(module, name):
                    _SAVED[(where, name)] = getattr(module, name)
                    setattr(module, name, ours)
        _users += 1


def _uninstall() -> None:
    global _users
    with _LOCK:
        _users -= 1
        if _users == 0:
            for (where, name), own in _SAVED.items():
                setattr(sys.modules[where], name, own)
            _SAVED.clear()


@contextlib.contextmanager
def fast_init(module: torch.nn.Module | None = None, *, seed: int, strict: bool = False,
              threads: int | None = None) -> Iterator[FastInitReport]:  # fmt: skip
    """Serve every random initialization torch code performs in this block with fastkaiming.

    While the block runs, in the thread that entered it, ``torch.nn.init``'s random functions
    (by any name a library keeps for them), ``Tensor.normal_``, ``Tensor.uniform_`` and timm's
    truncated normal are filled by fastkaiming with the same arguments: the same distribution,
    written in place, from `seed`. So a model library's own initialization (a constructor,
    ``post_init``, ``init_weights``, ``model.apply(fn)``) runs unchanged and fast. Constant
    fills (``zeros_``, ``ones_``, ``constant_``, ``fill_``, ``zero_``) and everything else stay
    torch's own.

    Streams: with `module`, a fill of one of its parameters or buffers (the tensor itself, its
    ``.data``, or a contiguous view of all of it) uses ``stream_for(qualified name)``, the
    stream ``init_module_`` uses for that name, so the values do not depend on the order of the
    calls; a parameter tied under several names uses its first name in ``named_parameters()``.
    Every other tensor (no `module`: every tensor, as when building a model) takes the next
    stream in call order: 0, 1, 2, ... The same code and seed give the same bits on any thread
    count and SIMD kernel, and for DTensor parameters (FSDP2, TP) on any mesh.

    Exact or not at all: a call fastkaiming cannot write exactly (a ``generator=``, an
    unsupported dtype or device, a tensor subclass other than DTensor, a layout the intake
    refuses, autograd recording the in-place op, arguments fastkaiming rejects) runs as torch
    would and is counted in the report, as are torch's other random functions (``torch.randn``,
    ``randperm``, ``bernoulli_``, ...). Calls on meta tensors are torch's no-ops.

    Threads: torch's function modes are per thread; other threads, and threads started in the
    block, see torch's own functions. Blocks nest: the innermost serves. On exit, normal or by
    an exception, everything is restored.

    Parameters
    ----------
    module : torch.nn.Module, optional
        The model whose parameters and buffers get streams from their qualified names.
    seed : int
        The fastkaiming seed, in [0, 2**64).
    strict : bool, default False
        Raise :class:`NotServedError` instead of letting a random call through to torch.
    threads : int, optional
        Threads per fill (None: the usable cores); the values do not depend on it.

    Returns
    -------
    FastInitReport
        The block's report (``with fast_init(...) as report``), counted as the block runs.

    Raises
    ------
    TypeError
        If `module` is not a torch.nn.Module or `strict` is not a bool.
    ValueError
        If `seed` or `threads` is invalid.
    NotServedError
        With ``strict=True``, at the first random call fastkaiming cannot serve exactly.

    Examples
    --------
    >>> import torch
    >>> from fastkaiming.torch import fast_init
    >>> with fast_init(seed=0) as report:
    ...     layer = torch.nn.Linear(64, 32)
    >>> report.routed
    2
    >>> with fast_init(layer, seed=0):
    ...     _ = torch.nn.init.normal_(layer.weight, std=0.02)
    """
    if module is not None and not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module or None, got {type(module).__name__}")
    if seed is None:
        raise TypeError("fast_init needs seed= (an int in [0, 2**64)), the same on every rank")
    key = _checks.seed(seed)
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be a bool, got {type(strict).__name__}")
    if threads is not None:
        _checks.threads(threads)
    names = None if module is None else {id(t): name for name, t in _named(module)}
    router = _Router(key, names, module, strict, threads)
    _install()
    try:
        with router:
            yield router.report
    finally:
        _uninstall()
