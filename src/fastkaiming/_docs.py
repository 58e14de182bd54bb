"""The parts of the public docstrings (numpydoc) that many functions share, written once.

A docstring line that holds only ``{name}`` is replaced by ``FRAGMENTS[name]`` at that line's
indentation (`documented`); other braces are left alone. The out-of-place constructors and
fastkaiming.dask derive their docstrings from their fill's template (`constructor_doc`).
"""
from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

FRAGMENTS = {
    "tensor": """\
tensor : buffer or torch.Tensor
    What to fill, in place: a writable NumPy array (any strides whose elements do not share
    memory), ``numpy.memmap``, memoryview, ``array.array``, mmap, bytearray, a CPU torch tensor
    or ``nn.Parameter`` (a DTensor is filled shard by shard, a CUDA tensor through host
    staging), or another DLPack producer's CPU tensor. Its elements must be float32, float64,
    float16 or bfloat16; a buffer of raw bytes is read as `dtype`.""",
    "seed": """\
seed : int or None, default None
    The Philox key: an int (or NumPy integer, not bool) in ``[0, 2**64)``. None draws a new
    key from the OS on every call, so the values cannot be repeated.""",
    "stream": """\
stream : int, default 0
    The Philox stream: an int in ``[0, 2**64)``, e.g. a layer's index or
    ``fastkaiming.torch.stream_for(name)``. Streams of one seed are independent.""",
    "offset": """\
offset : int, default 0
    Index in the stream of the first sample, >= 0: element i (in C order) gets sample
    ``offset + i``, so pieces of a buffer filled at matching offsets equal one fill of the
    whole. With `global_shape`, the whole tensor starts at `offset`. The samples must fit in
    the stream: 2**64 Philox blocks of 4 words, 4 samples a block (2 for float64 normal and
    uniform).""",
    "global_shape": """\
global_shape : sequence of int or None, default None
    The shape of the whole tensor of which the buffer is one block (a shard, a tile, a
    chunk), with as many dimensions as the buffer and at most 2**62 elements. Each element
    then gets the value it has in a fill of the whole tensor, and fans come from this shape.
    None: the buffer is the whole tensor.""",
    "block_start": """\
block_start : sequence of int or None, default None
    Where the block's first element sits in the whole tensor, one index per dimension
    (``(rank * rows, 0)`` for a row shard); the block must lie inside `global_shape`.
    Needs `global_shape`; None there means the origin.""",
    "threads": """\
threads : int or None, default None
    Threads to fill with, as scikit-learn counts them: None uses the usable cores
    (``OMP_NUM_THREADS`` if set, else the CPU affinity mask), a negative number counts back
    (-1 all of them, -2 all but one), 0 is an error. Fills under 262144 elements run on one
    thread. The values never depend on it.""",
    "dtype": """\
dtype : str, numpy.dtype or None, default None
    How to read `tensor`: ``"float32"``, ``"float64"``, ``"float16"`` or ``"bfloat16"`` (or
    the NumPy dtype). Needed for a raw byte buffer (bytearray, mmap, uint8 array); for a
    typed tensor it may be given and must name the tensor's own dtype. A uint16 buffer with
    ``dtype="bfloat16"`` holds bfloat16 bits.""",
    "fans": """\
fan_in, fan_out : int or None, default None
    Fans to use instead of those computed from the shape, each a positive int below 2**64.
    A buffer without a usable shape (1-D, raw bytes) needs the one that the mode uses.""",
    "axes_torch": """\
in_axis, out_axis : int, default 1 and 0
    The axes of the input and output features, for fans computed from the shape (negative
    values count from the end). The defaults are PyTorch's ``(out, in, *kernel)``; Keras and
    JAX lay kernels out as ``(*kernel, in, out)``: ``in_axis=-2, out_axis=-1``.""",
    "axes_keras": """\
in_axis, out_axis : int, default -2 and -1
    The axes of the input and output features, for fans computed from the shape (negative
    values count from the end). The defaults are Keras' and JAX's ``(*kernel, in, out)``;
    PyTorch's ``(out, in, *kernel)`` is ``in_axis=1, out_axis=0``.""",
    "returns": """\
tensor : same type as `tensor`
    The object given, filled (not a copy).""",
    "raises": """\
TypeError
    `tensor` is not a buffer, its dtype is not supported (named as its framework names it),
    `dtype` does not match it, or an argument has the wrong type (a float seed, ...).
ValueError
    `tensor` is read-only, has elements that share memory, or lives on a device other than
    the CPU and CUDA; `seed` or `stream` is outside ``[0, 2**64)``; `offset` is negative or
    its range runs past the end of the stream; ``threads=0``; `global_shape` and
    `block_start` do not hold the buffer. Nothing has been written when an error is raised.""",
    "warns": """\
UserWarning
    When `tensor` has no elements (the fill is then a no-op), as torch warns.""",
    "kaiming": """\
a : float, default 0.0
    The negative slope of the rectifier after this layer (leaky_relu only), >= 0.
mode : {"fan_in", "fan_out", "fan_avg"}, default "fan_in"
    The fan: "fan_in" keeps the variance of activations in the forward pass, "fan_out" that
    of gradients in the backward pass, "fan_avg" is their mean (which torch lacks).
nonlinearity : str, default "leaky_relu"
    A name :func:`calculate_gain` knows: "relu", "leaky_relu", "linear", "conv2d", "tanh",
    "sigmoid", "selu", ...""",
    "kaiming_raises": """\
ValueError
    `a` is negative or not finite; an unknown `mode` or `nonlinearity`; a fan of 0; a tensor
    of fewer than 2 dimensions without the fan `mode` needs; an axis out of range.""",
    # init_file and init_safetensors
    "file_chunk_bytes": """\
chunk_bytes : int, default 64 MiB
    About how many bytes are written at a time (each chunk through its own short-lived
    memory map), a positive int. The values do not depend on it.""",
    "file_quiet": """\
quiet : bool or None, default None
    True: no progress bar; False: always one (on stderr); None: one when stderr is a
    terminal.""",
    "file_returns": """\
Returns
-------
pathlib.Path
    `path`, written.

Raises
------""",
    # fastkaiming.torch's drop-ins
    "torch_tensor": """\
tensor : torch.Tensor
    The tensor to fill in place: a dense CPU tensor or ``nn.Parameter`` (float32, float64,
    float16 or bfloat16), a DTensor (each rank fills its shard) or a CUDA tensor (filled on the
    host in chunks and copied). On a meta tensor the function is a no-op that returns it,
    after torch's own argument checks, and draws no seed.""",
    "generator": """\
generator : torch.Generator or None, default None
    Where the seed comes from when `seed` is None: 63 bits drawn from this torch generator
    (None: torch's default generator, so ``torch.manual_seed`` makes runs reproducible).""",
    "torch_seed": """\
seed : int or None, default None
    The fastkaiming seed, an int in ``[0, 2**64)``, instead of one drawn from `generator`
    (then the torch generator is left as it is). Not together with `generator`.""",
    "torch_stream": """\
stream : int, default 0
    The Philox stream, an int in ``[0, 2**64)``.""",
    "torch_returns": """\
torch.Tensor
    `tensor`, filled in place under ``torch.no_grad()`` (its autograd version counter
    bumped, as torch's in-place ops do).""",
    "torch_raises": """\
ValueError
    Both `seed` and `generator` given; a seed or stream outside ``[0, 2**64)``; a tensor
    fastkaiming cannot write in place (read-only, lazy negated or conjugate view, data not
    allocated, a device other than CPU and CUDA, a ``Partial`` DTensor placement).
TypeError
    A dtype other than float32, float64, float16 and bfloat16; a sparse, quantized or nested
    tensor, or a subclass other than ``nn.Parameter`` and DTensor; an argument of the wrong
    type. Nothing has been written when an error is raised.""",
}

# Constructors (fastkaiming.kaiming_normal, ...): what replaces the fill's buffer-side entries.
CONSTRUCTOR_FRAGMENTS = {
    "tensor": """\
shape : int or sequence of int
    Shape of the new array (non-negative dimensions).
dtype : str, numpy.dtype or None, default "float32"
    ``"float32"``, ``"float64"``, ``"float16"`` or ``"bfloat16"`` (which needs the
    ``ml_dtypes`` package), or the NumPy dtype; None means float32.""",
    "dtype": "",
    "returns": """\
numpy.ndarray
    A new C-contiguous array of `shape` and `dtype`, filled in one pass.""",
    "raises": """\
TypeError
    `shape` is not an int or a sequence of ints, `dtype` is not a supported float dtype, or
    an argument has the wrong type (a float seed, ...).
ValueError
    `shape` has a negative dimension; `seed` or `stream` is outside ``[0, 2**64)``; `offset`
    is negative or its range runs past the end of the stream; ``threads=0``; `global_shape`
    and `block_start` do not hold `shape`.
ImportError
    ``dtype="bfloat16"`` without the ``ml_dtypes`` package.""",
    "warns": """\
UserWarning
    When `shape` has no elements.""",
}

# fastkaiming.dask: lazy arrays, filled chunk by chunk
LAZY_FRAGMENTS = {
    **CONSTRUCTOR_FRAGMENTS,
    "tensor": """\
shape : int or sequence of int
    Shape of the whole array (non-negative dimensions).
chunks : str, int, tuple or dict, default "auto"
    The chunking, in any form ``dask.array`` accepts (``normalize_chunks``). The values do
    not depend on it.
dtype : str, numpy.dtype or None, default "float32"
    ``"float32"``, ``"float64"``, ``"float16"`` or ``"bfloat16"`` (which needs the
    ``ml_dtypes`` package), or the NumPy dtype; None means float32.""",
    "seed": """\
seed : int or None, default None
    The Philox key, an int in ``[0, 2**64)``; None draws one from the OS once, when the
    array is built (every chunk uses that one).""",
    "threads": """\
threads : int, default 1
    Threads each chunk's fill uses on its worker (Dask runs chunks in parallel already);
    None for the worker's usable cores, negative to count back. The values never depend on
    it.""",
    "global_shape": "",
    "block_start": "",
    "returns": """\
dask.array.Array
    A lazy array: each chunk is a block fill of the whole array (`global_shape` and
    `block_start`), so it equals the in-memory fill for any chunking and number of workers.""",
    "raises": """\
TypeError
    `shape` is not an int or a sequence of ints, `dtype` is not a supported float dtype, or
    an argument has the wrong type. Every argument is checked when the array is built (by a
    one-element fill, when `shape` has elements), not on the workers.
ValueError
    `shape` has a negative dimension; `seed` or `stream` is outside ``[0, 2**64)``; `offset`
    is negative or its range runs past the end of the stream; ``threads=0``.
ImportError
    ``dtype="bfloat16"`` without the ``ml_dtypes`` package.""",
    "warns": "",
}

# Placeholders for runs of placeholders that many docstrings share, in this order
COMPOSITES = {
    "seed_stream_offset": "{seed}\n{stream}\n{offset}",
    "block_threads_dtype": "{global_shape}\n{block_start}\n{threads}\n{dtype}",
    # the end of Parameters, Returns and the Raises that every drop-in shares (more may follow)
    "drop_in_tail": "{generator}\n{torch_seed}\n{torch_stream}\n\nReturns\n-------\n{torch_returns}\n\n"
                    "Raises\n------\n{torch_raises}",
    # Returns and the Raises that every fill shares (more may follow)
    "returns_raises": "Returns\n-------\n{returns}\n\nRaises\n------\n{raises}",
}

_PLACEHOLDER = re.compile(r"^([ \t]*)\{(\w+)\}[ \t]*\n", re.MULTILINE)
_TITLE = r"^[ \t]*([A-Z][\w ]*\w)\n[ \t]*-+\n"  # a numpydoc section title, underlined
_SECTION = re.compile(_TITLE, re.MULTILINE)
_EMPTY_SECTION = re.compile(rf"{_TITLE}(?=\s*(?:{_TITLE}|\Z))", re.MULTILINE)

# Each documented function's docstring before substitution, for constructor_doc
TEMPLATES: dict[Callable[..., object], str] = {}


def _expand(doc: str) -> str:
    """`doc` with each composite placeholder replaced by the placeholders it stands for."""

    def one(match: re.Match[str]) -> str:
        text = COMPOSITES.get(match.group(2))
        return match.group(0) if text is None else textwrap.indent(text, match.group(1)) + "\n"

    return _PLACEHOLDER.sub(one, doc)


def fill_in(doc: str, fragments: dict[str, str]) -> str:
    """`doc` with each ``{name}`` line replaced by ``fragments[name]`` (else FRAGMENTS[name]),
    indented as the line."""

    def one(match: re.Match[str]) -> str:
        text = fragments.get(match.group(2), FRAGMENTS[match.group(2)])
        return textwrap.indent(text, match.group(1)) + "\n" if text else ""

    filled = _PLACEHOLDER.sub(one, _expand(doc))
    # a section whose only entries were placeholders given as "": dropped with its title
    return _EMPTY_SECTION.sub("", filled)


def documented(function: F) -> F:
    """Fill in `function`'s docstring placeholders; keep the template (docstrings may be None
    under python -OO)."""
    if function.__doc__ is not None:
        TEMPLATES[function] = function.__doc__
        function.__doc__ = fill_in(function.__doc__, {})
    return function


def _sections(doc: str) -> dict[str, str]:
    """A cleaned numpydoc docstring cut at its section titles: {"": head, "Parameters": ...}."""
    parts = _SECTION.split(doc)
    found = {"": parts[0]}
    for title, body in zip(parts[1::2], parts[2::2], strict=True):
        found[title] = body
    return found


def constructor_doc(fill: Callable[..., object], summary: str, examples: str,
                    fragments: dict[str, str]) -> str:  # fmt: skip
    """The docstring of a function that makes a new array and fills it as `fill` (a documented
    function) does: `summary` (a paragraph, unindented), the fill's description and
    parameters (buffer-side entries replaced by `fragments`), and `examples` (doctest lines)."""
    parts = _sections(_expand(inspect.cleandoc(TEMPLATES[fill])))
    head = parts[""].split("\n\n", 1)
    body = [summary.strip(), head[1].strip()] if len(head) > 1 else [summary.strip()]
    for title in ("Parameters", "Returns", "Raises", "Warns"):
        if title in parts:
            body.append(f"{title}\n{'-' * len(title)}\n{parts[title].strip()}")
    body.append(f"Examples\n--------\n{inspect.cleandoc(examples)}")
    return fill_in("\n\n".join(body) + "\n", fragments)



def _drop_entries(section: str, names: tuple[str, ...]) -> str:
    """A Parameters section (cleaned, unindented entries) without the entries of `names`."""
    kept: list[str] = []
    keep = True
    for line in section.strip("\n").split("\n"):
        if line and not line[0].isspace():  # an entry's first line
            keep = line.split(" :", 1)[0] not in names
        if keep:
            kept.append(line)
    return "\n".join(kept)


def method_doc(fill: Callable[..., object], owner: str, dropped: tuple[str, ...], raises: str,
               examples: str) -> str | None:  # fmt: skip
    """The docstring of a method `owner`.<name> that calls `fill` (a documented function) with
    some of its parameters set (`dropped`): a summary naming the function, its description,
    parameters but `dropped`, Returns, Raises plus `raises`, Warns, and `examples`. None when
    `fill` has no docstring (python -OO)."""
    if fill.__doc__ is None:
        return None
    name = fill.__name__
    parts = _sections(inspect.cleandoc(fill.__doc__))
    head = parts[""].split("\n\n", 1)
    kept = " and ".join(f"{p}=" for p in dropped)
    summary = (f":func:`fastkaiming.{name}` with the {owner}'s seed, on its next stream; the same "
               f"parameters but {kept}.")  # fmt: skip
    body = [summary, head[0].strip()] + ([head[1].strip()] if len(head) > 1 else [])
    sections = {**parts, "Parameters": _drop_entries(parts["Parameters"], dropped),
                "Raises": parts["Raises"].strip("\n") + "\n" + inspect.cleandoc(raises)}
    for title in ("Parameters", "Returns", "Raises", "Warns"):
        if title in sections:
            body.append(f"{title}\n{'-' * len(title)}\n{sections[title].strip(chr(10))}")
    body.append(f"See Also\n--------\nfastkaiming.{name} : The function, with seed= and stream=.")
    body.append(f"Examples\n--------\n{inspect.cleandoc(examples)}")
    return "\n\n".join(body) + "\n"
