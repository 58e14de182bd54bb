# cython: language_level=3
"""Binding of the C core: a buffer becomes a pointer, one call runs without the GIL.

No defaults and no policy live here; fastkaiming._api validates every argument first.
"""
from cpython.buffer cimport PyBUF_STRIDES, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid, PyCapsule_SetName
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "Python.h":
    # Declared here without an exception spec: the exception it sets must stay set until
    # fill() returns, not be reported as unraisable by the callback below.
    int check_signals "PyErr_CheckSignals" ()

DTYPE_UINT32 = FK_DTYPE_UINT32
DTYPE_FLOAT16 = FK_DTYPE_FLOAT16
DTYPE_FLOAT32 = FK_DTYPE_FLOAT32
DTYPE_FLOAT64 = FK_DTYPE_FLOAT64
DTYPE_BFLOAT16 = FK_DTYPE_BFLOAT16
DIST_RAW = FK_DIST_RAW
DIST_UNIFORM = FK_DIST_UNIFORM
DIST_NORMAL = FK_DIST_NORMAL
DIST_TRUNC_NORMAL = FK_DIST_TRUNC_NORMAL
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
         double tail_a, double tail_b, int form, uint64_t seed, uint64_t stream, uint64_t block,
         uint32_t phase, object index_strides, int threads, int isa, bint main_thread):
    """Fill the writable buffer `buf` in place. Arguments are checked by the caller.

    index_strides: None, or per axis the sample-index step (a block of a larger tensor).
    On the main thread the fill polls for signals, so Ctrl-C stops it with KeyboardInterrupt.
    """
    cdef Py_buffer view
    cdef int64_t shape[FK_MAX_NDIM]
    cdef int64_t strides[FK_MAX_NDIM]
    cdef int d
    PyObject_GetBuffer(buf, &view, PyBUF_STRIDES | PyBUF_WRITABLE)
    try:
        if view.ndim > FK_MAX_NDIM:
            raise ValueError(f"buffer has {view.ndim} dimensions; at most {FK_MAX_NDIM} are supported")
        for d in range(view.ndim):
            shape[d] = view.shape[d]
            strides[d] = view.strides[d]
        _fill_one(view.buf, view.ndim, shape, strides, dtype, dist, loc, scale, lo, hi, tail_a,
                  tail_b, form, seed, stream, block, phase, index_strides, threads, isa, main_thread)
    finally:
        PyBuffer_Release(&view)


def fill_batch(list requests, int isa, bint main_thread):
    """Run fills in order, each request a tuple (address, shape, steps, itemsize, then fill()'s
    arguments from dtype to threads): `shape` and `steps` (strides in items) of the memory at
    `address`, which the caller has checked and keeps alive. Stops at the first that raises
    (Ctrl-C included)."""
    cdef int64_t shape[FK_MAX_NDIM]
    cdef int64_t strides[FK_MAX_NDIM]
    cdef size_t address
    cdef Py_ssize_t itemsize
    cdef int d, ndim, dtype, dist, form, threads
    cdef double loc, scale, lo, hi, tail_a, tail_b
    cdef uint64_t seed, stream, block
    cdef uint32_t phase
    cdef tuple request
    for request in requests:
        (address, dims, steps, itemsize, dtype, dist, loc, scale, lo, hi, tail_a, tail_b, form,
         seed, stream, block, phase, index_strides, threads) = request
        ndim = len(dims)
        if ndim > FK_MAX_NDIM or len(steps) != ndim:
            raise ValueError(f"shape and steps must have the same length, at most {FK_MAX_NDIM}")
        for d in range(ndim):
            shape[d] = dims[d]
            strides[d] = steps[d] * itemsize
        _fill_one(<void *>address, ndim, shape, strides, dtype, dist, loc, scale, lo, hi, tail_a,
                  tail_b, form, seed, stream, block, phase, index_strides, threads, isa, main_thread)


cdef int _fill_one(void *data, int ndim, int64_t *shape, int64_t *strides, int dtype, int dist,
                   double loc, double scale, double lo, double hi, double tail_a, double tail_b,
                   int form, uint64_t seed, uint64_t stream, uint64_t block, uint32_t phase,
                   object index_strides, int threads, int isa, bint main_thread) except -1:
    cdef fk_request req
    cdef int64_t istrides[FK_MAX_NDIM]
    cdef fk_status status
    cdef int d
    req.index_strides = NULL
    if index_strides is not None:
        if len(index_strides) != ndim:
            raise ValueError("index_strides must give one step per axis")
        for d in range(ndim):
            istrides[d] = index_strides[d]
        req.index_strides = istrides
    req.data = data
    req.ndim = ndim
    req.shape = shape
    req.strides = strides
    req.dtype = <fk_dtype>dtype
    req.dist = <fk_dist>dist
    req.params.loc = loc
    req.params.scale = scale
    req.params.lo = lo
    req.params.hi = hi
    req.params.tail_a = tail_a
    req.params.tail_b = tail_b
    req.params.form = form
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
    if status == FK_EINTR:
        _raise_pending()
    if status == FK_EISA:
        raise ValueError("the requested kernel is not available on this CPU")
    if status != FK_OK:
        raise ValueError("invalid fill request (internal error: please report it)")
    return 0


# ---- DLPack ---------------------------------------------------------------------------------
# The ABI structs of the DLPack specification (v1.0; the legacy unversioned form too).
cdef extern from *:
    """
    typedef struct { int32_t device_type; int32_t device_id; } FkDLDevice;
    typedef struct { uint8_t code; uint8_t bits; uint16_t lanes; } FkDLDataType;
    typedef struct {
        void *data; FkDLDevice device; int32_t ndim; FkDLDataType dtype;
        int64_t *shape; int64_t *strides; uint64_t byte_offset;
    } FkDLTensor;
    typedef struct FkDLManagedTensor {
        FkDLTensor dl_tensor; void *manager_ctx; void (*deleter)(struct FkDLManagedTensor *);
    } FkDLManagedTensor;
    typedef struct { uint32_t major; uint32_t minor; } FkDLPackVersion;
    typedef struct FkDLManagedTensorVersioned {
        FkDLPackVersion version; void *manager_ctx;
        void (*deleter)(struct FkDLManagedTensorVersioned *); uint64_t flags;
        FkDLTensor dl_tensor;
    } FkDLManagedTensorVersioned;
    #define FK_DLPACK_FLAG_READ_ONLY 1u
    """
    ctypedef struct FkDLDevice:
        int32_t device_type
        int32_t device_id
    ctypedef struct FkDLDataType:
        uint8_t code
        uint8_t bits
        uint16_t lanes
    ctypedef struct FkDLTensor:
        void *data
        FkDLDevice device
        int32_t ndim
        FkDLDataType dtype
        int64_t *shape
        int64_t *strides
        uint64_t byte_offset
    ctypedef struct FkDLManagedTensor:
        FkDLTensor dl_tensor
        void (*deleter)(FkDLManagedTensor *) noexcept
    ctypedef struct FkDLPackVersion:
        uint32_t major
        uint32_t minor
    ctypedef struct FkDLManagedTensorVersioned:
        FkDLPackVersion version
        void (*deleter)(FkDLManagedTensorVersioned *) noexcept
        uint64_t flags
        FkDLTensor dl_tensor
    enum: FK_DLPACK_FLAG_READ_ONLY


cdef void _describe(Py_buffer *buffer, object owner, char *data, Py_ssize_t n, Py_ssize_t itemsize,
                    bint readonly, int ndim, Py_ssize_t *shape, Py_ssize_t *strides) noexcept:
    """A strided buffer of n items of plain unsigned integers: the caller knows the real dtype."""
    buffer.buf = data
    buffer.obj = owner
    buffer.len = n * itemsize
    buffer.readonly = readonly
    buffer.itemsize = itemsize
    if itemsize == 2:
        buffer.format = b"H"
    elif itemsize == 4:
        buffer.format = b"I"
    elif itemsize == 8:
        buffer.format = b"Q"
    else:
        buffer.format = b"B"
    buffer.ndim = ndim
    buffer.shape = shape if ndim else NULL
    buffer.strides = strides if ndim else NULL
    buffer.suboffsets = NULL
    buffer.internal = NULL


cdef class DLView:
    """A DLPack export seen through the buffer protocol, so NumPy can view it without a copy.

    Holds the producer's tensor until it is garbage collected, then calls its deleter.
    Attributes: device_type, device_id, code, bits, lanes (DLPack's), readonly, ndim.
    """
    cdef object capsule
    cdef FkDLManagedTensor *legacy
    cdef FkDLManagedTensorVersioned *versioned
    cdef FkDLTensor *t
    cdef Py_ssize_t shape_[64]
    cdef Py_ssize_t strides_[64]
    cdef readonly int device_type, device_id, code, bits, lanes, ndim
    cdef readonly bint readonly

    def __cinit__(self, object capsule):
        cdef int d
        cdef Py_ssize_t step
        self.capsule = capsule
        if PyCapsule_IsValid(capsule, b"dltensor_versioned"):
            self.versioned = <FkDLManagedTensorVersioned *>PyCapsule_GetPointer(
                capsule, b"dltensor_versioned")
            PyCapsule_SetName(capsule, b"used_dltensor_versioned")
            if self.versioned.version.major != 1:
                raise BufferError(
                    f"DLPack version {self.versioned.version.major}.{self.versioned.version.minor} "
                    "is not supported (1.x is)")
            self.t = &self.versioned.dl_tensor
            self.readonly = (self.versioned.flags & FK_DLPACK_FLAG_READ_ONLY) != 0
        elif PyCapsule_IsValid(capsule, b"dltensor"):
            self.legacy = <FkDLManagedTensor *>PyCapsule_GetPointer(capsule, b"dltensor")
            PyCapsule_SetName(capsule, b"used_dltensor")
            self.t = &self.legacy.dl_tensor
            self.readonly = False
        else:
            raise BufferError("not an unused DLPack capsule")
        self.device_type = self.t.device.device_type
        self.device_id = self.t.device.device_id
        self.code = self.t.dtype.code
        self.bits = self.t.dtype.bits
        self.lanes = self.t.dtype.lanes
        self.ndim = self.t.ndim
        if self.ndim < 0 or self.ndim > 64:
            raise BufferError(f"DLPack tensor has {self.ndim} dimensions")
        step = max(1, self.bits // 8) * self.lanes
        for d in range(self.ndim - 1, -1, -1):
            self.shape_[d] = self.t.shape[d]
            if self.t.strides != NULL:
                self.strides_[d] = self.t.strides[d] * step
            elif d == self.ndim - 1:
                self.strides_[d] = step  # NULL strides: compact, row-major
            else:
                self.strides_[d] = self.strides_[d + 1] * self.shape_[d + 1]

    def __dealloc__(self):
        if self.versioned != NULL and self.versioned.deleter != NULL:
            self.versioned.deleter(self.versioned)
        elif self.legacy != NULL and self.legacy.deleter != NULL:
            self.legacy.deleter(self.legacy)

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        cdef Py_ssize_t itemsize = (self.bits // 8) * self.lanes
        cdef Py_ssize_t n = 1
        cdef int d
        if (flags & PyBUF_WRITABLE) and self.readonly:
            raise BufferError("the DLPack tensor is read-only")
        for d in range(self.ndim):
            n *= self.shape_[d]
        _describe(buffer, self, <char *>self.t.data + self.t.byte_offset, n, itemsize, self.readonly,
                  self.ndim, self.shape_, self.strides_)

    def __releasebuffer__(self, Py_buffer *buffer):
        pass


# ---- Memory at an address ---------------------------------------------------------------------
cdef class HostMemory:
    """Writable host memory at an address, seen through the buffer protocol, without a copy.

    For producers whose memory the Python layer has already checked (a plain CPU torch tensor):
    `address`, `shape` and `steps` (strides in items) are taken as given. Holds `owner` while it
    lives. Attributes as an ndarray's: shape, strides (in bytes), ndim, size, itemsize.
    """
    cdef object owner
    cdef char *ptr
    cdef Py_ssize_t shape_[64]
    cdef Py_ssize_t strides_[64]
    cdef readonly tuple shape, strides
    cdef readonly int ndim, itemsize
    cdef readonly Py_ssize_t size

    def __cinit__(self, object owner, size_t address, object shape, object steps, int itemsize):
        cdef int d
        cdef Py_ssize_t n = len(shape)
        if len(steps) != n or n > 64:
            raise ValueError("shape and steps must have the same length, at most 64")
        if itemsize not in (1, 2, 4, 8):
            raise ValueError("itemsize must be 1, 2, 4 or 8")
        self.owner = owner
        self.ptr = <char *>address
        self.shape = tuple(shape)
        self.ndim = n
        self.itemsize = itemsize
        self.size = 1
        for d in range(n):
            self.shape_[d] = shape[d]
            self.strides_[d] = steps[d] * itemsize
            self.size *= self.shape_[d]
        self.strides = tuple([self.strides_[d] for d in range(n)])

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        _describe(buffer, self, self.ptr, self.size, self.itemsize, False, self.ndim, self.shape_,
                  self.strides_)

    def __releasebuffer__(self, Py_buffer *buffer):
        pass
