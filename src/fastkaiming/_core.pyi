"""Type stubs for the compiled binding fastkaiming._core (see _core.pyx)."""

from collections.abc import Sequence

DTYPE_UINT32: int
DTYPE_FLOAT16: int
DTYPE_FLOAT32: int
DTYPE_FLOAT64: int
DTYPE_BFLOAT16: int
DIST_RAW: int
DIST_UNIFORM: int
DIST_NORMAL: int
DIST_TRUNC_NORMAL: int
ISA_AUTO: int
ISA_ALL: tuple[str, ...]
MAX_NDIM: int
MIN_PARALLEL: int

def isa_names() -> dict[str, int]: ...
def samples_per_block(dist: int, dtype: int) -> int: ...
def fill(
    buf: object,
    dtype: int,
    dist: int,
    loc: float,
    scale: float,
    lo: float,
    hi: float,
    tail_a: float,
    tail_b: float,
    form: int,
    seed: int,
    stream: int,
    block: int,
    phase: int,
    index_strides: tuple[int, ...] | None,
    threads: int,
    isa: int,
    main_thread: bool,
) -> None: ...

def fill_batch(requests: list[tuple[object, ...]], isa: int, main_thread: bool) -> None:
    """Each request: (address, shape, steps, itemsize), then fill()'s arguments from dtype to
    threads."""

class DLView:
    """A DLPack export seen through the buffer protocol (see _core.pyx)."""

    device_type: int
    device_id: int
    code: int
    bits: int
    lanes: int
    ndim: int
    readonly: bool
    def __init__(self, capsule: object) -> None: ...
    def __buffer__(self, flags: int) -> memoryview: ...

class HostMemory:
    """Writable host memory at an address, seen through the buffer protocol (see _core.pyx)."""

    shape: tuple[int, ...]
    strides: tuple[int, ...]
    ndim: int
    size: int
    itemsize: int
    def __init__(
        self, owner: object, address: int, shape: Sequence[int], steps: Sequence[int], itemsize: int
    ) -> None: ...
    def __buffer__(self, flags: int) -> memoryview: ...
