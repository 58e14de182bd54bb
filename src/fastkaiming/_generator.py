"""Generator: one seed, and a stream counter that gives each fill its own Philox stream."""
from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import _api, _checks, _docs, _family

T = TypeVar("T")
P = ParamSpec("P")

_OWN = ("seed", "stream")  # the generator's to give


def _on_next_stream(fill: Callable[P, T]) -> Callable[Concatenate[Generator, P], T]:
    """`fill` as a method: the generator's seed, its next stream, every other parameter as is.

    Type checkers see the function's own parameters (seed= and stream= included, though a call
    that passes them raises TypeError); inspect.signature shows the method's exact ones.
    """
    name = fill.__name__
    signature = inspect.signature(fill)
    call: Callable[..., T] = fill

    def method(self: Generator, *args: Any, **kwargs: Any) -> T:
        for own in _OWN:
            if own in kwargs:
                raise TypeError(
                    f"Generator.{name} takes no {own}= (the generator gives its seed and its next "
                    f"stream); call fastkaiming.{name} to choose them"
                )
        return call(*args, seed=self._seed, stream=self._take, **kwargs)

    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    kept = [p for p in signature.parameters.values() if p.name not in _OWN]
    method.__signature__ = signature.replace(parameters=[self_param, *kept])  # type: ignore[attr-defined]
    method.__name__ = name
    method.__qualname__ = f"Generator.{name}"
    method.__module__ = "fastkaiming"
    buffer = "np.empty(4096, np.uint32)" if name == "random_raw" else "np.empty((64, 32), np.float32)"
    method.__doc__ = _docs.method_doc(fill, "generator", _OWN, _METHOD_RAISES, _METHOD_EXAMPLES.format(
        name=name, buffer=buffer))  # fmt: skip
    return method


_METHOD_RAISES = """\
TypeError
    `seed` or `stream` is given: the generator gives them.
ValueError
    The generator has used all 2**64 streams. A call that raises takes no stream.
"""
# Two calls take streams 0 and 1: the second equals the function on stream 1
_METHOD_EXAMPLES = """\
>>> g = fk.Generator(seed=0)
>>> first = g.{name}({buffer})     # stream 0
>>> second = g.{name}({buffer})    # stream 1
>>> g.next_stream
2
>>> bool((second == fk.{name}({buffer}, seed=0, stream=1)).all())
True
"""


class Generator:
    """A seed plus a stream counter: successive fills use streams 0, 1, 2, ...

    ``g = Generator(0); g.kaiming_normal_(w1); g.kaiming_normal_(w2)`` is reproducible, and
    the two layers come from independent Philox streams. Every public fill is a method with the
    function's parameters but seed= and stream=; ``g.fill(f, tensor, ...)`` runs any other.
    A call that raises consumes no stream. Safe to share between threads (each fill takes a
    distinct stream).

    Parameters
    ----------
    seed : int or None, default None
        The Philox key of every fill, an int (or NumPy integer, not bool) in ``[0, 2**64)``.
        None draws one from the OS; `seed` then records it, so ``Generator(g.seed)`` repeats
        every fill that ``g`` made, in the same order.

    Attributes
    ----------
    seed : int
        The Philox key.
    next_stream : int
        The stream that the next fill will use.

    Raises
    ------
    TypeError
        `seed` is not an int (a float, a bool, a string, ...).
    ValueError
        `seed` is outside ``[0, 2**64)``.

    See Also
    --------
    kaiming_normal_ : A fill with its seed and stream given by hand.

    Notes
    -----
    A copy is an independent Generator at the same state: ``pickle`` (a checkpoint, a spawned
    worker), ``copy.deepcopy`` and ``copy.copy`` all give one with the same seed and next
    stream and a counter of its own, so it makes the fills the original would make next (as
    numpy's Generator copies do). For generators whose fills differ, give each its own seed.

    Examples
    --------
    >>> g = fk.Generator(seed=0)
    >>> w1 = g.kaiming_normal_(np.empty((64, 32), np.float32), nonlinearity="relu")   # stream 0
    >>> w2 = g.kaiming_normal_(np.empty((32, 16), np.float32), nonlinearity="relu")   # stream 1
    >>> g
    Generator(seed=0, next_stream=2)
    >>> again = fk.kaiming_normal_(np.empty((32, 16), np.float32), nonlinearity="relu", seed=0, stream=1)
    >>> bool((w2 == again).all())
    True
    """

    def __init__(self, seed: int | None = None) -> None:
        self._seed = _checks.seed(seed)
        self._next = 0
        self._lock = threading.Lock()

    @property
    def seed(self) -> int:
        """The Philox key; drawn from the OS when the Generator was made with seed=None.

        ``Generator(g.seed)`` reproduces ``g``'s fills.

        Returns
        -------
        int
            The key, in ``[0, 2**64)``; read-only.

        Examples
        --------
        >>> g = fk.Generator()
        >>> w = g.normal_(np.empty(1000, np.float32))
        >>> h = fk.Generator(g.seed)
        >>> bool((h.normal_(np.empty(1000, np.float32)) == w).all())
        True
        """
        return self._seed

    @property
    def next_stream(self) -> int:
        """The stream the next fill will use.

        Returns
        -------
        int
            Streams 0 to ``next_stream - 1`` are taken; a call that raises takes none.

        Examples
        --------
        >>> g = fk.Generator(seed=0)
        >>> g.next_stream
        0
        >>> _ = g.uniform_(np.empty(8, np.float32))
        >>> g.next_stream
        1
        """
        return self._next

    def __getstate__(self) -> dict[str, int]:
        """The seed and the next stream; a lock is not state (a copy gets its own)."""
        with self._lock:
            return {"seed": self._seed, "next_stream": self._next}

    def __setstate__(self, state: dict[str, int]) -> None:
        seed = _checks.integer("seed", state["seed"])
        next_stream = _checks.integer("next_stream", state["next_stream"])
        if not (0 <= seed < _checks.U64 and 0 <= next_stream <= _checks.U64):  # 2**64: every stream used
            raise ValueError(f"not a Generator's state: {state!r}")
        self._seed, self._next = seed, next_stream
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Generator(seed={self._seed}, next_stream={self._next})"

    def _take(self) -> int:
        with self._lock:
            if self._next >= _checks.U64:
                raise ValueError("this Generator has used all 2**64 streams")
            s = self._next
            self._next += 1
            return s

    def fill(self, initializer: Callable[..., T], tensor: object, *args: object, **kwargs: object) -> T:
        """Any fastkaiming fill on the next stream: ``g.fill(fk.he_normal_, w)``.

        Calls ``initializer(tensor, *args, seed=g.seed, stream=<the next stream>, **kwargs)``,
        for fills that have no method here: fastkaiming.torch's drop-ins, fastkaiming.dask's
        lazy arrays (which take their stream once, when the array is built), a fill of one's
        own that takes seed= and stream=.

        Parameters
        ----------
        initializer : callable
            A function that takes the tensor first and then ``seed=`` and ``stream=`` keywords.
            It is given the stream as a callable that takes the next stream when called, so a
            fill that raises before drawing (fastkaiming's fills check every argument first)
            takes none.
        tensor : object
            The first argument of `initializer` (the buffer to fill, or the shape of a lazy
            array).
        *args : object
            More positional arguments of `initializer`.
        **kwargs : object
            Its keyword arguments but ``seed`` and ``stream``.

        Returns
        -------
        object
            What `initializer` returns (for a fastkaiming fill: `tensor`, filled).

        Raises
        ------
        TypeError
            `kwargs` holds ``seed`` or ``stream`` (as a duplicate keyword argument); whatever
            `initializer` raises for its arguments.
        ValueError
            The generator has used all 2**64 streams; whatever `initializer` raises.

        Examples
        --------
        >>> g = fk.Generator(seed=0)
        >>> w = g.fill(fk.he_normal_, np.empty((3, 3, 16, 32), np.float32))
        >>> bool((w == fk.he_normal_(np.empty((3, 3, 16, 32), np.float32), seed=0, stream=0)).all())
        True
        >>> g.next_stream
        1
        """
        return initializer(tensor, *args, seed=self._seed, stream=self._take, **kwargs)

    normal_ = _on_next_stream(_api.normal_)
    uniform_ = _on_next_stream(_api.uniform_)
    trunc_normal_ = _on_next_stream(_api.trunc_normal_)
    kaiming_normal_ = _on_next_stream(_api.kaiming_normal_)
    kaiming_uniform_ = _on_next_stream(_api.kaiming_uniform_)
    variance_scaling_ = _on_next_stream(_family.variance_scaling_)
    he_normal_ = _on_next_stream(_family.he_normal_)
    he_uniform_ = _on_next_stream(_family.he_uniform_)
    glorot_normal_ = _on_next_stream(_family.glorot_normal_)
    glorot_uniform_ = _on_next_stream(_family.glorot_uniform_)
    lecun_normal_ = _on_next_stream(_family.lecun_normal_)
    lecun_uniform_ = _on_next_stream(_family.lecun_uniform_)
    xavier_normal_ = _on_next_stream(_family.xavier_normal_)
    xavier_uniform_ = _on_next_stream(_family.xavier_uniform_)
    random_raw = _on_next_stream(_api.random_raw)
