# cython: language_level=3
"""Binding of the C core: a buffer becomes a pointer, one call runs without the GIL.

No defaults and no policy live here; fastkaiming._api validates every argument first.
"""
from cpython.buffer cimport PyBUF_STRIDES, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer

cdef extern from "Python.h":
    # Declared here without an exception spec: the exception it sets must stay set until
    # fill() returns, not be reported as unraisable by the callback below.
    int check_signals "PyErr_CheckSignals" ()
from libc.stdint cimport int64_t, uint32_t, uint64_t

DTYPE_UINT32 = FK_DTYPE_UINT32
DTYPE_FLOAT16 = FK_DTYPE_FLOAT16
DTYPE_FLOAT32 = FK_DTYPE_FLOAT32
DTYPE_FLOAT64 = FK_DTYPE_FLOAT64
DIST_RAW = FK_DIST_RAW
DIST_UNIFORM = FK_DIST_UNIFORM
DIST_NORMAL = FK_DIST_NORMAL
ISA_AUTO = FK_ISA_AUTO
ISA_ALL = tuple(fk_isa_name(i).decode("ascii") for i in range(FK_ISA_COUNT))
MAX_NDIM = FK_MAX_NDIM
MIN_PARALLEL = FK_MIN_PARALLEL


def isa_names():
    """Names of the kernels this CPU and build can run, indexed by ISA code."""
    cdef unsigned mask = fk_isa_available()
    return {fk_isa_name(i).decode("ascii"): i for i in range(FK_ISA_COUNT) if mask & (1u << i)}


def samples_per_block(int dist, int dtype):
    """Samples one Philox block gives for (dist, dtype); 0 if unsupported."""
    return fk_samples_per_block(<fk_dist>dist, <fk_dtype>dtype)


cdef int _signal_pending(void *ctx) noexcept nogil:
    # Runs the Python signal handlers; one that raises (Ctrl-C) leaves its exception set.
    with gil:
        return check_signals() != 0


cdef int _raise_pending() except -1:
    return -1


def fill(object buf, int dtype, int dist, double loc, double scale, double lo, double hi,
         uint64_t seed, uint64_t stream, uint64_t block, uint32_t phase, int threads, int isa,
         bint main_thread):
    """Fill the writable buffer `buf` in place. Arguments are checked by the caller.

    On the main thread the fill polls for signals, so Ctrl-C stops it with KeyboardInterrupt.
    """
    cdef Py_buffer view
    cdef fk_request req
    cdef int64_t shape[FK_MAX_NDIM]
    cdef int64_t strides[FK_MAX_NDIM]
    cdef fk_status status
    cdef int d
    PyObject_GetBuffer(buf, &view, PyBUF_STRIDES | PyBUF_WRITABLE)
    try:
        if view.ndim > FK_MAX_NDIM:
            raise ValueError(f"buffer has {view.ndim} dimensions; at most {FK_MAX_NDIM} are supported")
        for d in range(view.ndim):
            shape[d] = view.shape[d]
            strides[d] = view.strides[d]
        req.data = view.buf
        req.ndim = view.ndim
        req.shape = shape
        req.strides = strides
        req.dtype = <fk_dtype>dtype
        req.dist = <fk_dist>dist
        req.params.loc = loc
        req.params.scale = scale
        req.params.lo = lo
        req.params.hi = hi
        req.start.key[0] = <uint32_t>seed
        req.start.key[1] = <uint32_t>(seed >> 32)
        req.start.stream = stream
        req.start.block = block
        req.start.phase = phase
        req.threads = threads
        req.isa = isa
        req.interrupted = NULL
        if main_thread:
            req.interrupted = _signal_pending
        req.interrupt_ctx = NULL
        with nogil:
            status = fk_fill(&req)
    finally:
        PyBuffer_Release(&view)
    if status == FK_EINTR:
        _raise_pending()
    if status == FK_EISA:
        raise ValueError("the requested kernel is not available on this CPU")
    if status != FK_OK:
        raise ValueError("invalid fill request (internal error: please report it)")
