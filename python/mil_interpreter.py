#!/usr/bin/env python3
"""A numpy reference interpreter for a SAVED Core ML model, so that a Linux machine (where Core ML
cannot run) can check a converted package's numbers against onnxruntime.

    python mil_interpreter.py PACKAGE --input NAME=FILE [...] [--out OUT.npz]
    python mil_interpreter.py PACKAGE --verify --input image=FILE --expected-logits LOGITS.f32 [--classifier]

PACKAGE is an ML Program `.mlpackage` or a NeuralNetwork `.mlmodel`. Everything is read back from
disk with coremltools' own readers: the protobuf spec (`coremltools.utils.load_spec`) and, for an ML
Program, the weight blobs as written (`weights/weight.bin`, through coremltools'
`libmilstoragepython._BlobStorageReader`, at each `BlobFileValue` offset). Nothing comes from a
converter's in-memory program. The interpreter is independent code written from the MIL op
definitions' documentation; it does not call coremltools' own op implementations.

FILE is `.npy` (a tensor, given to a multiArray input as is) or `.rgb` (raw uint8 HxWx3, RGB, for
an ImageType input; height and width come from the spec). An ImageType input becomes the float
tensor [1, 3, H, W] of pixel values 0..255 in the input's colour order (RGB, or BGR reversed from
the file); an ML Program carries its own scale/bias ops, a NeuralNetwork's `preprocessing` scaler is
applied here (x * channelScale + per-channel bias).

Precision rule: fp32 accumulation, fp16 storage at op boundaries. Every op is evaluated in (at
least) float32: fp16 inputs are widened exactly to float32, the op is computed in float32 (matmul
and convolution accumulate in float32; gelu/erf/tanh-type elementwise functions are evaluated in
float64), and each output is then rounded (round-to-nearest-even) to the dtype the program declares
for it. So an op whose declared output is fp16 (the ops after the converter's fp32->fp16 cast) stores
an fp16 result, and an fp32 program runs in float32 throughout. Real Core ML back ends (GPU, Neural
Engine) may accumulate in fp16 inside an op; this is the idealised reference, not a bit-exact model
of any device.

Every computed output is checked against the shape and dtype the program declares for it; a
mismatch is an error. An op the interpreter does not know is an error naming the op type and its
output (`UnknownOp`), never a skip.

Output: one JSON line on stdout. Exit codes: 0 ran (in --verify mode, whatever the error sizes:
thresholds are the caller's business); 2 bad usage or input files; 10 an op (or an op parameter
value) the interpreter does not know; 12 the model is inconsistent (a shape that does not match
what the program declares, a missing value, an unreadable package). Errors are one line on stderr.
"""
import argparse
import collections
import json
import logging
import math
import os
import sys
import time

import numpy as np

__all__ = ['load', 'Model', 'UnknownOp', 'ModelError', 'op_histogram']


class UnknownOp(Exception):
    """An op type (or an op parameter value) the interpreter does not implement."""

    def __init__(self, op_type, output, detail=None):
        self.op_type, self.output = op_type, output
        what = f'op {op_type} (output {output})'
        super().__init__(f'{what}: {detail}' if detail else f'unknown {what}: the interpreter does not implement it')


class ModelError(Exception):
    """The saved model is inconsistent or cannot be read."""


class UsageError(Exception):
    """Bad command line or input file."""


# ----------------------------------------------------------------------------------------------
# Reading the saved model
# ----------------------------------------------------------------------------------------------

def _coremltools():
    """Import coremltools quietly (it logs optional-dependency warnings at import)."""
    logging.getLogger('coremltools').setLevel(logging.ERROR)
    import coremltools
    import coremltools.proto.MIL_pb2  # noqa: F401
    logging.getLogger('coremltools').setLevel(logging.ERROR)
    return coremltools


# MIL DataType name -> numpy dtype, packed bit width for sub-byte types (None: whole bytes).
_MIL_DTYPES = {
    'BOOL': (np.bool_, None), 'STRING': (object, None),
    'FLOAT16': (np.float16, None), 'FLOAT32': (np.float32, None), 'FLOAT64': (np.float64, None),
    'INT8': (np.int8, None), 'INT16': (np.int16, None), 'INT32': (np.int32, None), 'INT64': (np.int64, None),
    'UINT8': (np.uint8, None), 'UINT16': (np.uint16, None), 'UINT32': (np.uint32, None), 'UINT64': (np.uint64, None),
    'INT4': (np.int8, 4), 'UINT4': (np.uint8, 4), 'UINT1': (np.uint8, 1), 'UINT2': (np.uint8, 2),
    'UINT3': (np.uint8, 3), 'UINT6': (np.uint8, 6),
}

# How coremltools' blob reader reads each stored dtype (one method per dtype).
_BLOB_READERS = {
    'FLOAT32': 'read_float_data', 'FLOAT16': 'read_fp16_data', 'INT8': 'read_int8_data', 'UINT8': 'read_uint8_data',
    'INT16': 'read_int16_data', 'UINT16': 'read_uint16_data', 'INT32': 'read_int32_data', 'UINT32': 'read_uint32_data',
    'INT4': 'read_int4_data', 'UINT4': 'read_uint4_data', 'UINT1': 'read_uint1_data', 'UINT2': 'read_uint2_data',
    'UINT3': 'read_uint3_data', 'UINT6': 'read_uint6_data',
}

# The MIL opset of each function specialisation (semantics that changed between opsets use it).
_OPSET_VERSION = {'CoreML5': 15, 'CoreML6': 16, 'CoreML7': 17, 'CoreML8': 18, 'CoreML9': 19}


def _unpack_bits(raw, nbits, count, signed):
    """Sub-byte values packed LSB first within each byte, row-major (the MIL storage layout)."""
    bits = np.unpackbits(np.asarray(raw, dtype=np.uint8).reshape(-1), bitorder='little')[:count * nbits]
    bits = bits.reshape(count, nbits).astype(np.int32)
    vals = (bits << np.arange(nbits, dtype=np.int32)).sum(axis=1)
    if signed:
        vals = np.where(vals >= 1 << (nbits - 1), vals - (1 << nbits), vals)
    return vals.astype(np.int8 if signed else np.uint8)


class _Type:
    """A value type: a tensor (dtype name, shape with None for unknown dims), a list or a dict."""

    def __init__(self, kind, dtype=None, shape=None, elem=None):
        self.kind, self.dtype, self.shape, self.elem = kind, dtype, shape, elem

    def __repr__(self):
        if self.kind == 'tensor':
            return f'{self.dtype}{list(self.shape) if self.shape is not None else "[*]"}'
        return self.kind


def _parse_type(t, mil):
    which = t.WhichOneof('type')
    if which == 'tensorType':
        tt = t.tensorType
        dtype = mil.DataType.Name(tt.dataType)
        shape = None
        if tt.rank >= 0:
            shape = tuple(d.constant.size if d.WhichOneof('dimension') == 'constant' else None for d in tt.dimensions)
            if len(shape) != tt.rank:
                shape = None
        return _Type('tensor', dtype, shape)
    if which == 'listType':
        return _Type('list', elem=_parse_type(t.listType.type, mil))
    if which == 'dictionaryType':
        return _Type('dict')
    if which == 'tupleType':
        return _Type('tuple')
    return _Type(str(which))


class _Values:
    """Decodes MIL `Value` protos: immediate values and blob-file values (read with coremltools' reader)."""

    def __init__(self, ct, weights_root):
        self.ct = ct
        self.mil = ct.proto.MIL_pb2
        self.root = weights_root
        self.readers = {}

    def _reader(self, file_name):
        path = file_name.replace('@model_path', self.root) if file_name.startswith('@model_path') else os.path.join(self.root, file_name)
        if path not in self.readers:
            if not os.path.isfile(path):
                raise ModelError(f'weight file {file_name} is missing ({path})')
            from coremltools.libmilstoragepython import _BlobStorageReader
            self.readers[path] = _BlobStorageReader(path)
        return self.readers[path]

    def decode(self, v):
        t = _parse_type(v.type, self.mil)
        which = v.WhichOneof('value')
        if t.kind == 'list':
            if which != 'immediateValue' or v.immediateValue.WhichOneof('value') != 'list':
                raise ModelError('a list value that is not immediate')
            return [self.decode(e) for e in v.immediateValue.list.values]
        if t.kind == 'dict':
            if which != 'immediateValue':
                raise ModelError('a dictionary value that is not immediate')
            return {self.decode(e.key): self.decode(e.value) for e in v.immediateValue.dictionary.values}
        if t.kind != 'tensor':
            raise ModelError(f'a constant of type {t.kind} is not supported')
        np_dtype, nbits = _MIL_DTYPES.get(t.dtype, (None, None))
        if np_dtype is None:
            raise ModelError(f'constant dtype {t.dtype} is not supported')
        shape = t.shape if t.shape is not None else None
        count = int(np.prod(shape)) if shape is not None else None
        if which == 'blobFileValue':
            bf = v.blobFileValue
            method = _BLOB_READERS.get(t.dtype)
            if method is None:
                raise ModelError(f'blob of dtype {t.dtype} cannot be read')
            raw = getattr(self._reader(bf.fileName), method)(bf.offset)
            if t.dtype == 'FLOAT16':
                raw = np.asarray(raw, dtype=np.uint16).view(np.float16)
            arr = np.asarray(raw)
            if nbits:
                arr = arr.astype(np_dtype)
            if count is not None:
                if arr.size < count:
                    raise ModelError(f'blob at offset {bf.offset} holds {arr.size} values, the type needs {count}')
                arr = arr.reshape(-1)[:count].reshape(shape)
            return arr
        if which != 'immediateValue':
            raise ModelError(f'value kind {which} is not supported')
        iv = v.immediateValue
        if iv.WhichOneof('value') != 'tensor':
            raise ModelError(f'immediate value kind {iv.WhichOneof("value")} is not supported')
        tv = iv.tensor
        kind = tv.WhichOneof('value')
        if t.dtype == 'STRING':
            vals = list(tv.strings.values)
            if shape == ():
                return vals[0]
            return np.array(vals, dtype=object).reshape(shape)
        if kind == 'bytes':
            raw = np.frombuffer(tv.bytes.values, dtype=np.uint8)
            if nbits:
                arr = _unpack_bits(raw, nbits, count, signed=t.dtype == 'INT4')
            else:
                arr = raw.view(np_dtype)[:count]
        elif kind is None:
            arr = np.zeros(0, np_dtype)
        else:
            arr = np.array(list(getattr(tv, kind).values)).astype(np_dtype)
        if shape is not None:
            arr = arr.reshape(shape)
        return arr


class _Op:
    __slots__ = ('type', 'inputs', 'outputs', 'attrs', 'has_blocks')

    def __init__(self, type_, inputs, outputs, attrs, has_blocks):
        self.type, self.inputs, self.outputs, self.attrs, self.has_blocks = type_, inputs, outputs, attrs, has_blocks

    @property
    def name(self):
        return self.outputs[0][0] if self.outputs else '?'


def _parse_program(spec, values, ct):
    mil = ct.proto.MIL_pb2
    prog = spec.mlProgram
    if 'main' not in prog.functions:
        raise ModelError(f'the ML Program has no main function (functions: {list(prog.functions)})')
    fn = prog.functions['main']
    opset = fn.opset
    if opset not in fn.block_specializations:
        raise ModelError(f'main has no block for its opset {opset}')
    block = fn.block_specializations[opset]
    inputs = [(i.name, _parse_type(i.type, mil)) for i in fn.inputs]
    ops = []
    for op in block.operations:
        ins = {}
        for k, arg in op.inputs.items():
            binds = []
            for b in arg.arguments:
                if b.WhichOneof('binding') == 'name':
                    binds.append(('ref', b.name))
                else:
                    binds.append(('val', values.decode(b.value)))
            ins[k] = binds
        outs = [(o.name, _parse_type(o.type, mil)) for o in op.outputs]
        attrs = {k: v for k, v in op.attributes.items() if k != 'name'}
        if op.type != 'const':
            # iOS16 constexpr_* ops keep their (constant) parameters as attributes rather than inputs
            for k in list(attrs):
                if k not in ins:
                    ins[k] = [('val', values.decode(attrs.pop(k)))]
        ops.append(_Op(op.type, ins, outs, attrs, len(op.blocks) > 0))
    return inputs, ops, list(block.outputs), _OPSET_VERSION.get(opset, 99), opset


# ----------------------------------------------------------------------------------------------
# Numerics helpers
# ----------------------------------------------------------------------------------------------

def _f32(x):
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype != np.float32 and x.dtype.kind in 'fiub' else x


_ERF = None


def _erf(x):
    """erf in float64: scipy's if present, else the C library's, element by element."""
    global _ERF
    if _ERF is None:
        try:
            from scipy.special import erf as scipy_erf
            _ERF = scipy_erf
        except ImportError:
            _ERF = np.vectorize(math.erf, otypes=[np.float64])
    return _ERF(np.asarray(x, dtype=np.float64))


def _ints(v):
    return [int(i) for i in np.asarray(v).reshape(-1)]


def _scalar(v):
    a = np.asarray(v)
    if a.dtype == object:
        return a.reshape(-1)[0] if a.ndim else a.item()
    return a.reshape(-1)[0].item() if a.size else None


def _spatial_pads(op, pad_type, pad, in_sizes, kernel, strides, dilations):
    """[(before, after)] per spatial dim for MIL's pad_type valid / custom / same / same_lower."""
    n = len(in_sizes)
    if pad_type == 'valid':
        return [(0, 0)] * n
    if pad_type == 'custom':
        p = _ints(pad) if pad is not None else [0] * (2 * n)
        if len(p) != 2 * n:
            raise ModelError(f'{op.type} {op.name}: pad has {len(p)} values for {n} spatial dims')
        return [(p[2 * i], p[2 * i + 1]) for i in range(n)]
    if pad_type in ('same', 'same_lower'):
        out = []
        for i, k, s, d in zip(in_sizes, kernel, strides, dilations):
            ek = (k - 1) * d + 1
            total = max(0, s * math.ceil(i / s) - i + ek - s)
            small, big = total // 2, total - total // 2
            out.append((big, small) if pad_type == 'same_lower' else (small, big))
        return out
    raise UnknownOp(op.type, op.name, f'pad_type {pad_type!r} is not implemented')


def _window_views(xp, kernel, strides, dilations, out_sizes):
    """For each kernel offset, the strided view of the padded input that the offset multiplies."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, strides, dilations, out_sizes
    views = []
    for i in range(kh):
        for j in range(kw):
            views.append(xp[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw])
    return views


def _conv2d(x, w, b, strides, pads, dilations, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    if c != cg * groups or o % groups:
        raise ModelError(f'conv: input has {c} channels, weight {w.shape} with groups={groups}')
    ho = (h + pads[0][0] + pads[0][1] - ((kh - 1) * dilations[0] + 1)) // strides[0] + 1
    wo = (wd + pads[1][0] + pads[1][1] - ((kw - 1) * dilations[1] + 1)) // strides[1] + 1
    if ho <= 0 or wo <= 0:
        raise ModelError(f'conv: output size {ho}x{wo} is not positive')
    if any(p for pp in pads for p in pp):
        x = np.pad(x, [(0, 0), (0, 0), pads[0], pads[1]])
    if groups == 1:
        if kh == kw == 1 and strides == [1, 1]:
            cols = x[:, :, :ho, :wo].reshape(n, c, ho * wo)
        else:
            views = _window_views(x, (kh, kw), strides, dilations, (ho, wo))
            cols = np.stack(views, axis=2).reshape(n, c * kh * kw, ho * wo)
        y = np.matmul(w.reshape(o, c * kh * kw), cols)
    elif cg == 1:
        # depthwise (with channel multiplier o // c): one vectorised multiply-add per kernel offset
        mult = o // c
        if mult > 1:
            x = np.repeat(x, mult, axis=1)
        y = np.zeros((n, o, ho, wo), np.float32)
        for idx, view in enumerate(_window_views(x, (kh, kw), strides, dilations, (ho, wo))):
            y += view * w[:, 0, idx // kw, idx % kw][None, :, None, None]
        y = y.reshape(n, o, ho * wo)
    else:
        views = _window_views(x, (kh, kw), strides, dilations, (ho, wo))
        cols = np.stack(views, axis=2).reshape(n, groups, cg * kh * kw, ho * wo)
        y = np.matmul(w.reshape(groups, o // groups, cg * kh * kw)[None], cols).reshape(n, o, ho * wo)
    y = y.reshape(n, o, ho, wo)
    if b is not None:
        y = y + b.reshape(1, o, 1, 1)
    return y


def _pool_out_size(size, k, s, before, after, ceil_mode):
    total = before + after
    if not ceil_mode:
        return (size + total - k) // s + 1
    out = (size + total - k + s - 1) // s + 1
    # the last window must start inside the input or the leading padding
    if total > 0 and (out - 1) * s >= size + total / 2:
        out -= 1
    return out


def _pool2d(op, x, kind, kernel, strides, pads, ceil_mode, exclude_padding):
    n, c, h, w = x.shape
    kh, kw = kernel
    ho = _pool_out_size(h, kh, strides[0], *pads[0], ceil_mode)
    wo = _pool_out_size(w, kw, strides[1], *pads[1], ceil_mode)
    if ho <= 0 or wo <= 0:
        raise ModelError(f'{op.type} {op.name}: output size {ho}x{wo} is not positive')
    # extra rows/cols beyond the declared padding that ceil_mode windows may reach
    eh = max(0, (ho - 1) * strides[0] + kh - (h + pads[0][0] + pads[0][1]))
    ew = max(0, (wo - 1) * strides[1] + kw - (w + pads[1][0] + pads[1][1]))
    spad = [(pads[0][0], pads[0][1] + eh), (pads[1][0], pads[1][1] + ew)]
    if kind == 'max':
        xp = np.pad(x, [(0, 0), (0, 0)] + spad, constant_values=-np.inf)
        y = None
        for v in _window_views(xp, kernel, strides, (1, 1), (ho, wo)):
            y = v.copy() if y is None else np.maximum(y, v)
        return y
    xp = np.pad(x, [(0, 0), (0, 0)] + spad) if any(p for pp in spad for p in pp) else x
    if kind == 'l2':
        xp = xp * xp
    acc = np.zeros((n, c, ho, wo), np.float32)
    for v in _window_views(xp, kernel, strides, (1, 1), (ho, wo)):
        acc += v
    if kind == 'l2':
        return np.sqrt(acc)
    # the divisor: elements of the window inside the input (exclude_padding) or inside input+padding
    mask = np.zeros((1, 1, h + spad[0][0] + spad[0][1], w + spad[1][0] + spad[1][1]), np.float32)
    if exclude_padding:
        mask[:, :, spad[0][0]:spad[0][0] + h, spad[1][0]:spad[1][0] + w] = 1
    else:
        mask[:, :, :h + pads[0][0] + pads[0][1], :w + pads[1][0] + pads[1][1]] = 1
    count = np.zeros((1, 1, ho, wo), np.float32)
    for v in _window_views(mask, kernel, strides, (1, 1), (ho, wo)):
        count += v
    return acc / count


def _bilinear_coords(in_size, out_size, align_corners, half_pixel_centers):
    """Source coordinate of each output index, for MIL's upsample_bilinear (scale recomputed from sizes)."""
    i = np.arange(out_size, dtype=np.float64)
    if align_corners and not half_pixel_centers:
        src = i * ((in_size - 1) / (out_size - 1)) if out_size > 1 else np.zeros_like(i)
    elif half_pixel_centers:
        src = (i + 0.5) * (in_size / out_size) - 0.5
    else:
        src = i * (in_size / out_size)
    src = np.clip(src, 0, in_size - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = (src - lo).astype(np.float32)
    return lo, hi, frac


def _softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


# ----------------------------------------------------------------------------------------------
# The ML Program ops
# ----------------------------------------------------------------------------------------------

_OPS = {}


def _op(*names):
    def register(f):
        for n in names:
            _OPS[n] = f
        return f
    return register


class _Ctx:
    """What an op implementation sees: its inputs by parameter name, its op, the opset."""

    def __init__(self, op, env, opset):
        self.op, self.env, self.opset = op, env, opset

    def has(self, key):
        return key in self.op.inputs

    def get(self, key, default=None):
        binds = self.op.inputs.get(key)
        if binds is None:
            return default
        vals = [self._resolve(b) for b in binds]
        return vals[0] if len(vals) == 1 else vals

    def get_list(self, key):
        return [self._resolve(b) for b in self.op.inputs.get(key, [])]

    def _resolve(self, b):
        kind, v = b
        if kind == 'val':
            return v
        if v not in self.env:
            raise ModelError(f'op {self.op.type} (output {self.op.name}) reads {v}, which no earlier op produced')
        return self.env[v]

    def req(self, key):
        if key not in self.op.inputs:
            raise ModelError(f'op {self.op.type} (output {self.op.name}) lacks its required input {key}')
        return self.get(key)

    def fx(self, key='x'):
        return _f32(self.req(key))

    def unsupported(self, detail):
        return UnknownOp(self.op.type, self.op.name, detail)

    def string(self, key, default):
        v = self.get(key)
        return default if v is None else str(_scalar(v))


@_op('const')
def _const(c):
    if 'val' not in c.op.attrs:
        raise ModelError(f'const {c.op.name} has no val')
    return c.env['__values__'].decode(c.op.attrs['val'])


def _binary(fn):
    def run(c):
        x, y = c.req('x'), c.req('y')
        xf, yf = np.asarray(x), np.asarray(y)
        if xf.dtype.kind == 'f' or yf.dtype.kind == 'f':
            xf, yf = _f32(xf), _f32(yf)
        return fn(xf, yf)
    return run


_BINARY = {
    'add': np.add, 'sub': np.subtract, 'mul': np.multiply, 'real_div': np.divide,
    'maximum': np.maximum, 'minimum': np.minimum, 'pow': np.power,
    'floor_div': lambda a, b: np.floor_divide(a, b), 'mod': np.mod,
    'equal': np.equal, 'not_equal': np.not_equal, 'less': np.less, 'less_equal': np.less_equal,
    'greater': np.greater, 'greater_equal': np.greater_equal,
    'logical_and': np.logical_and, 'logical_or': np.logical_or, 'logical_xor': np.logical_xor,
}
for _name, _fn in _BINARY.items():
    _OPS[_name] = _binary(_fn)


_UNARY = {
    'relu': lambda x: np.maximum(x, np.float32(0)),
    'sigmoid': lambda x: 1 / (1 + np.exp(-x.astype(np.float64))),
    'tanh': lambda x: np.tanh(x.astype(np.float64)),
    'exp': lambda x: np.exp(x.astype(np.float64)),
    'exp2': lambda x: np.exp2(x.astype(np.float64)),
    'sqrt': np.sqrt, 'abs': np.abs, 'sign': np.sign, 'square': np.square,
    'floor': np.floor, 'ceil': np.ceil, 'round': np.round,
    'sin': np.sin, 'cos': np.cos, 'erf': _erf,
    'silu': lambda x: x / (1 + np.exp(-x.astype(np.float64))),
    'softplus': lambda x: np.logaddexp(0, x.astype(np.float64)),
    'softsign': lambda x: x / (1 + np.abs(x)),
}
for _name, _fn in _UNARY.items():
    _OPS[_name] = (lambda fn: lambda c: fn(c.fx()))(_fn)
_OPS['logical_not'] = lambda c: np.logical_not(c.req('x'))


@_op('log')
def _log(c):
    return np.log(c.fx().astype(np.float64) + float(_scalar(c.get('epsilon', 0.0))))


@_op('rsqrt')
def _rsqrt(c):
    return 1 / np.sqrt(c.fx().astype(np.float64) + float(_scalar(c.get('epsilon', 1e-12))))


@_op('inverse')
def _inverse(c):
    return 1 / (c.fx().astype(np.float64) + float(_scalar(c.get('epsilon', 1e-4))))


@_op('clip')
def _clip(c):
    return np.minimum(np.maximum(c.fx(), np.float32(_scalar(c.req('alpha')))), np.float32(_scalar(c.req('beta'))))


@_op('leaky_relu')
def _leaky_relu(c):
    x = c.fx()
    return np.where(x >= 0, x, x * np.float32(_scalar(c.get('alpha', 0.01))))


@_op('gelu')
def _gelu(c):
    x = c.fx().astype(np.float64)
    mode = c.string('mode', 'EXACT')
    if mode == 'EXACT':
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)))
    if mode == 'TANH_APPROXIMATION':
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    if mode == 'SIGMOID_APPROXIMATION':
        return x / (1 + np.exp(-1.702 * x))
    raise c.unsupported(f'gelu mode {mode!r} is not implemented')


@_op('cast')
def _cast(c):
    dtype = c.string('dtype', None)
    to = {'fp16': np.float16, 'fp32': np.float32, 'fp64': np.float64, 'int32': np.int32, 'int64': np.int64,
          'int16': np.int16, 'int8': np.int8, 'uint8': np.uint8, 'uint16': np.uint16, 'bool': np.bool_}.get(dtype)
    if to is None:
        raise c.unsupported(f'cast to {dtype!r} is not implemented')
    x = np.asarray(c.req('x'))
    if np.dtype(to).kind in 'iu' and x.dtype.kind == 'f':
        x = np.trunc(x)
    return x.astype(to)


@_op('conv')
def _conv(c):
    x, w = c.fx(), c.fx('weight')
    b = c.get('bias')
    b = _f32(b) if b is not None else None
    nsp = x.ndim - 2
    if nsp not in (1, 2):
        raise c.unsupported(f'{nsp}-D convolution is not implemented')
    strides = _ints(c.get('strides', [1] * nsp))
    dil = _ints(c.get('dilations', [1] * nsp))
    groups = int(_scalar(c.get('groups', 1)))
    pads = _spatial_pads(c.op, c.string('pad_type', 'valid'), c.get('pad'), x.shape[2:], w.shape[2:], strides, dil)
    if nsp == 1:
        y = _conv2d(x[:, :, None], w[:, :, None], b, [1] + strides, [(0, 0)] + pads, [1] + dil, groups)
        return y[:, :, 0]
    return _conv2d(x, w, b, strides, pads, dil, groups)


def _pool(kind):
    def run(c):
        x = c.fx()
        if x.ndim != 4:
            raise c.unsupported(f'{x.ndim - 2}-D pooling is not implemented')
        kernel = _ints(c.req('kernel_sizes'))
        strides = _ints(c.get('strides', [1, 1]))
        pads = _spatial_pads(c.op, c.string('pad_type', 'valid'), c.get('pad'), x.shape[2:], kernel, strides, [1, 1])
        ceil_mode = bool(_scalar(c.get('ceil_mode', False)))
        exclude = bool(_scalar(c.get('exclude_padding_from_average', False)))
        return _pool2d(c.op, x, kind, kernel, strides, pads, ceil_mode, exclude)
    return run


_OPS['avg_pool'] = _pool('avg')
_OPS['max_pool'] = _pool('max')
_OPS['l2_pool'] = _pool('l2')


def _scale_shift(c, y, shape):
    """The optional per-channel gamma and beta of a normalisation op, broadcast as `shape`."""
    if c.get('gamma') is not None:
        y = y * c.fx('gamma').reshape(shape)
    if c.get('beta') is not None:
        y = y + c.fx('beta').reshape(shape)
    return y


@_op('batch_norm')
def _batch_norm(c):
    x = c.fx()
    shape = [1, -1] + [1] * (x.ndim - 2)
    mean, var = c.fx('mean').reshape(shape), c.fx('variance').reshape(shape)
    eps = np.float32(_scalar(c.get('epsilon', 1e-5)))
    return _scale_shift(c, (x - mean) / np.sqrt(var + eps), shape)


@_op('instance_norm')
def _instance_norm(c):
    x = c.fx()
    axes = tuple(range(2, x.ndim))
    shape = [1, -1] + [1] * (x.ndim - 2)
    eps = np.float32(_scalar(c.get('epsilon', 1e-5)))
    return _scale_shift(c, (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps), shape)


@_op('layer_norm')
def _layer_norm(c):
    x = c.fx()
    axes = c.get('axes')
    axes = sorted(a % x.ndim for a in _ints(axes)) if axes is not None else list(range(x.ndim))
    eps = np.float32(_scalar(c.get('epsilon', 1e-5)))
    mean = x.mean(axis=tuple(axes), keepdims=True)
    var = np.square(x - mean).mean(axis=tuple(axes), keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    pshape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    for key, fn in (('gamma', np.multiply), ('beta', np.add)):
        p = c.get(key)
        if p is not None:
            p = _f32(p)
            if list(p.shape) != [x.shape[a] for a in axes]:
                raise ModelError(f'layer_norm {c.op.name}: {key} has shape {list(p.shape)}, x.shape[axes={axes}] is '
                                 f'{[x.shape[a] for a in axes]}')
            y = fn(y, p.reshape(pshape))
    return y


@_op('matmul')
def _matmul(c):
    x, y = c.fx(), c.fx('y')
    if bool(_scalar(c.get('transpose_x', False))) and x.ndim >= 2:
        x = np.swapaxes(x, -1, -2)
    if bool(_scalar(c.get('transpose_y', False))) and y.ndim >= 2:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


@_op('linear')
def _linear(c):
    x, w = c.fx(), c.fx('weight')
    y = np.matmul(x, w.T)
    b = c.get('bias')
    return y + _f32(b) if b is not None else y


@_op('einsum')
def _einsum(c):
    values = [_f32(v) for v in c.get_list('values')]
    return np.einsum(c.string('equation', None), *values)


@_op('softmax')
def _softmax_op(c):
    return _softmax(c.fx(), int(_scalar(c.get('axis', -1))))


def _reduce(fn, kind):
    def run(c):
        x = np.asarray(c.req('x'))
        if kind == 'float':
            x = _f32(x)
        axes = c.get('axes')
        axes = tuple(a % x.ndim for a in _ints(axes)) if axes is not None else tuple(range(x.ndim))
        keep = bool(_scalar(c.get('keep_dims', False)))
        return fn(x, axes, keep)
    return run


_OPS['reduce_mean'] = _reduce(lambda x, a, k: np.mean(x, axis=a, keepdims=k), 'float')
_OPS['reduce_sum'] = _reduce(lambda x, a, k: np.sum(x, axis=a, keepdims=k), 'float')
_OPS['reduce_max'] = _reduce(lambda x, a, k: np.max(x, axis=a, keepdims=k), 'any')
_OPS['reduce_min'] = _reduce(lambda x, a, k: np.min(x, axis=a, keepdims=k), 'any')
_OPS['reduce_prod'] = _reduce(lambda x, a, k: np.prod(x, axis=a, keepdims=k), 'float')
_OPS['reduce_sum_square'] = _reduce(lambda x, a, k: np.sum(x * x, axis=a, keepdims=k), 'float')
_OPS['reduce_l2_norm'] = _reduce(lambda x, a, k: np.sqrt(np.sum(x * x, axis=a, keepdims=k)), 'float')
_OPS['reduce_l1_norm'] = _reduce(lambda x, a, k: np.sum(np.abs(x), axis=a, keepdims=k), 'float')
_OPS['reduce_log_sum_exp'] = _reduce(
    lambda x, a, k: np.log(np.sum(np.exp(x.astype(np.float64)), axis=a, keepdims=k)), 'float')


@_op('reshape')
def _reshape(c):
    x = np.asarray(c.req('x'))
    shape = _ints(c.req('shape'))
    if 0 in shape:
        if c.opset >= 17:  # iOS17: each 0 copies the input dim aligned from the right, 1 when out of range
            shape = [(x.shape[x.ndim - (len(shape) - i)] if x.ndim - (len(shape) - i) >= 0 else 1) if s == 0 else s
                     for i, s in enumerate(shape)]
        else:
            if len(shape) != x.ndim:
                raise ModelError(f'reshape {c.op.name}: 0 in shape {shape} needs len(shape) == rank {x.ndim}')
            shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    try:
        return x.reshape(shape)
    except ValueError:
        raise ModelError(f'reshape {c.op.name}: cannot reshape {list(x.shape)} to {shape}') from None


@_op('transpose')
def _transpose(c):
    x = np.asarray(c.req('x'))
    perm = [p % x.ndim for p in _ints(c.req('perm'))]
    if sorted(perm) != list(range(x.ndim)):
        raise ModelError(f'transpose {c.op.name}: perm {perm} is not a permutation of rank {x.ndim}')
    return np.transpose(x, perm)


@_op('split')
def _split(c):
    x = np.asarray(c.req('x'))
    axis = int(_scalar(c.req('axis'))) % x.ndim
    sizes = c.get('split_sizes')
    if sizes is not None:
        sizes = _ints(sizes)
        if sum(sizes) != x.shape[axis]:
            raise ModelError(f'split {c.op.name}: split_sizes {sizes} do not add up to dim {x.shape[axis]}')
    else:
        n = int(_scalar(c.req('num_splits')))
        if x.shape[axis] % n:
            raise ModelError(f'split {c.op.name}: dim {x.shape[axis]} is not divisible by num_splits {n}')
        sizes = [x.shape[axis] // n] * n
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


@_op('concat')
def _concat(c):
    values = [np.asarray(v) for v in c.get_list('values')]
    return np.concatenate(values, axis=int(_scalar(c.req('axis'))))


@_op('slice_by_index')
def _slice_by_index(c):
    x = np.asarray(c.req('x'))
    rank = x.ndim
    begin = _ints(c.get('begin'))
    end = _ints(c.get('end'))
    stride = _ints(c.get('stride')) if c.get('stride') is not None else [1] * rank
    bmask = [bool(v) for v in np.asarray(c.get('begin_mask')).reshape(-1)] if c.get('begin_mask') is not None else [False] * rank
    emask = [bool(v) for v in np.asarray(c.get('end_mask')).reshape(-1)] if c.get('end_mask') is not None else [False] * rank
    squeeze = [bool(v) for v in np.asarray(c.get('squeeze_mask')).reshape(-1)] if c.get('squeeze_mask') is not None else [False] * rank
    index = []
    for d in range(rank):
        if squeeze[d]:
            index.append(begin[d])
            continue
        index.append(slice(None if bmask[d] else begin[d], None if emask[d] else end[d], stride[d]))
    return x[tuple(index)]


@_op('expand_dims')
def _expand_dims(c):
    x = np.asarray(c.req('x'))
    out_rank = x.ndim + len(_ints(c.req('axes')))
    for a in sorted(i % out_rank for i in _ints(c.req('axes'))):
        x = np.expand_dims(x, a)
    return x


@_op('squeeze')
def _squeeze(c):
    x = np.asarray(c.req('x'))
    axes = c.get('axes')
    return np.squeeze(x, axis=tuple(a % x.ndim for a in _ints(axes)) if axes is not None else None)


@_op('gather')
def _gather(c):
    x, idx = np.asarray(c.req('x')), np.asarray(c.req('indices')).astype(np.int64)
    axis = int(_scalar(c.get('axis', 0))) % x.ndim
    if int(_scalar(c.get('batch_dims', 0))) != 0:
        raise c.unsupported('gather with batch_dims != 0 is not implemented')
    if np.any(idx >= x.shape[axis]) or np.any(idx < -x.shape[axis]):
        raise ModelError(f'gather {c.op.name}: an index is outside [-{x.shape[axis]}, {x.shape[axis]})')
    return np.take(x, idx, axis=axis)


@_op('upsample_bilinear')
def _upsample_bilinear(c):
    x = c.fx()
    if x.ndim < 3:
        raise ModelError(f'upsample_bilinear {c.op.name}: rank {x.ndim} < 3')
    sh = float(_scalar(c.get('scale_factor_height', 1)))
    sw = float(_scalar(c.get('scale_factor_width', 1)))
    align = bool(_scalar(c.get('align_corners', True)))
    hpc = c.get('half_pixel_centers')
    hpc = (not align) if hpc is None else bool(_scalar(hpc))
    h, w = x.shape[-2:]
    ho, wo = int(math.floor(h * sh)), int(math.floor(w * sw))
    r0, r1, fr = _bilinear_coords(h, ho, align, hpc)
    c0, c1, fc = _bilinear_coords(w, wo, align, hpc)
    rows = x[..., r0, :] * (1 - fr)[:, None] + x[..., r1, :] * fr[:, None]
    return rows[..., c0] * (1 - fc) + rows[..., c1] * fc


@_op('upsample_nearest_neighbor')
def _upsample_nearest(c):
    x = np.asarray(c.req('x'))
    sh = float(_scalar(c.get('scale_factor_height', 1)))
    sw = float(_scalar(c.get('scale_factor_width', 1)))
    h, w = x.shape[-2:]
    ho, wo = int(math.floor(h * sh)), int(math.floor(w * sw))
    ri = np.minimum(np.floor(np.arange(ho) / sh).astype(np.int64), h - 1)
    ci = np.minimum(np.floor(np.arange(wo) / sw).astype(np.int64), w - 1)
    return x[..., ri, :][..., ci]


@_op('classify')
def _classify(c):
    probs = np.asarray(c.req('probabilities'), dtype=np.float64).reshape(-1)
    classes = c.req('classes')
    classes = [(_scalar(v) if isinstance(v, np.ndarray) else v) for v in classes]
    if len(classes) != probs.size:
        raise ModelError(f'classify: {len(classes)} classes for {probs.size} probabilities')
    return classes[int(np.argmax(probs))], {k: float(p) for k, p in zip(classes, probs)}


# -- iOS17 activation quantisation (what coremltools' linear_quantize_activations writes) -------
#
# MIL's definitions (coremltools/converters/mil/mil/ops/defs/iOS17/quantization_ops.py):
#   quantize:   clip(round(input / scale) + zero_point) to output_dtype's range (int8 or uint8)
#   dequantize: scale * (input - zero_point), in scale's dtype
# scale and zero_point are scalars, or vectors along `axis` (then axis is required, and each vector
# has input.shape[axis] entries; a scalar with an axis is refused). zero_point defaults to 0 and
# has the quantised dtype. As coremltools' own implementation (optimize/_utils.py,
# quantize_by_scale_and_zp), the quotient input / scale is taken in the input's precision (fp16 in
# an fp16 program), rounded half to even (np.around), the zero point added, and clipped.

_QUANTISED = {'int8': np.int8, 'uint8': np.uint8}


def _quant_params(c, data):
    """scale and zero point broadcast against `data` (with MIL's shape rules checked), and the axis."""
    scale = np.asarray(c.req('scale'))
    zp = c.get('zero_point')
    zp = None if zp is None else np.asarray(zp)
    axis = c.get('axis')
    axis = None if axis is None else int(_scalar(axis))
    if scale.ndim == 0:
        if axis is not None:
            raise ModelError(f'{c.op.type} {c.op.name}: axis {axis} given for a scalar scale')
        if zp is not None and zp.ndim != 0:
            raise ModelError(f'{c.op.type} {c.op.name}: a vector zero_point with a scalar scale')
        return scale, zp
    if scale.ndim != 1:
        raise ModelError(f'{c.op.type} {c.op.name}: scale of rank {scale.ndim} (a scalar or a vector)')
    if axis is None:
        raise ModelError(f'{c.op.type} {c.op.name}: a vector scale without an axis')
    if not -data.ndim <= axis < data.ndim:
        raise ModelError(f'{c.op.type} {c.op.name}: axis {axis} for an input of rank {data.ndim}')
    axis %= data.ndim
    if scale.size != data.shape[axis] or (zp is not None and (zp.ndim != 1 or zp.size != data.shape[axis])):
        raise ModelError(f'{c.op.type} {c.op.name}: {scale.size} scales for axis {axis} of size {data.shape[axis]}')
    shape = [1] * data.ndim
    shape[axis] = -1
    return scale.reshape(shape), (None if zp is None else zp.reshape(shape))


@_op('quantize')
def _quantize(c):
    x = np.asarray(c.req('input'))
    dtype = c.string('output_dtype', None)
    to = _QUANTISED.get(dtype)
    if to is None:
        raise c.unsupported(f'output_dtype {dtype!r} is not int8 or uint8')
    scale, zp = _quant_params(c, x)
    if zp is not None and zp.dtype != to:
        raise ModelError(f'quantize {c.op.name}: zero_point is {zp.dtype}, output_dtype {dtype}')
    info = np.iinfo(to)
    q = np.around(x / scale).astype(np.float32) + (np.float32(0) if zp is None else zp.astype(np.float32))
    return np.clip(q, info.min, info.max).astype(to)


@_op('dequantize')
def _dequantize(c):
    q = np.asarray(c.req('input'))
    if q.dtype not in (np.int8, np.uint8):
        raise ModelError(f'dequantize {c.op.name}: input is {q.dtype}, not int8 or uint8')
    scale, zp = _quant_params(c, q)
    if zp is not None and zp.dtype != q.dtype:
        raise ModelError(f'dequantize {c.op.name}: zero_point is {zp.dtype}, input {q.dtype}')
    centred = q.astype(np.float32) - (np.float32(0) if zp is None else zp.astype(np.float32))
    return _f32(scale) * centred


# -- the constexpr ops coremltools' weight compression writes (evaluated once, at load) --------

@_op('constexpr_affine_dequantize')
def _affine_dequantize(c):
    q = c.req('quantized_data')
    scale, zp = np.asarray(c.req('scale')), np.asarray(c.req('zero_point'))
    axis = int(_scalar(c.req('axis'))) % q.ndim
    shape = [1] * q.ndim
    shape[axis] = -1
    s = scale.astype(np.float32).reshape(shape) if scale.ndim == 1 else scale.astype(np.float32)
    z = zp.astype(np.float32).reshape(shape) if zp.ndim == 1 else zp.astype(np.float32)
    return (q.astype(np.float32) - z) * s


@_op('constexpr_cast')
def _constexpr_cast(c):
    return np.asarray(c.req('source_val')).astype(np.float32)


@_op('constexpr_lut_to_dense')
def _lut_to_dense(c):
    lut = np.asarray(c.req('lut'))
    indices = np.asarray(c.req('indices'))
    if c.has('shape'):  # iOS16: one LUT [2^n]; indices packed in uint8 bytes; the output shape given
        shape = _ints(c.req('shape'))
        nbits = int(round(math.log2(lut.size)))
        count = int(np.prod(shape))
        idx = _unpack_bits(indices, nbits, count, signed=False) if nbits < 8 else indices.reshape(-1)[:count]
        return lut.reshape(-1)[idx.astype(np.int64)].reshape(shape)
    # iOS18: lut [*blocks, NUM_PALETTES, VECTOR_SIZE], indices already the unpacked tensor
    k = indices.ndim
    if lut.ndim != k + 2:
        raise ModelError(f'constexpr_lut_to_dense {c.op.name}: lut rank {lut.ndim} for indices rank {k}')
    vsize = lut.shape[-1]
    idx = indices.astype(np.int64)
    # which LUT each element uses: block index = element index // (dim // lut dim)
    grids = np.meshgrid(*[np.arange(d) // (d // lut.shape[i]) for i, d in enumerate(indices.shape)], indexing='ij')
    if vsize == 1:
        return lut[tuple(grids) + (idx, np.zeros_like(idx))]
    axis = int(_scalar(c.req('vector_axis'))) % k
    vec = lut[tuple(grids) + (idx,)]  # indices.shape + [vsize]
    vec = np.moveaxis(vec, -1, axis + 1)
    shape = list(indices.shape)
    shape[axis] *= vsize
    return vec.reshape(shape)


@_op('constexpr_blockwise_shift_scale')
def _blockwise_shift_scale(c):
    data = np.asarray(c.req('data')).astype(np.float32)
    scale = np.asarray(c.req('scale')).astype(np.float32)
    offset = c.get('offset')
    if scale.ndim != data.ndim:
        raise ModelError(f'constexpr_blockwise_shift_scale {c.op.name}: scale rank {scale.ndim} != data rank {data.ndim}')
    for axis, (d, s) in enumerate(zip(data.shape, scale.shape)):
        if d % s:
            raise ModelError(f'constexpr_blockwise_shift_scale {c.op.name}: dim {d} not a multiple of {s}')
        if d // s > 1:
            scale = np.repeat(scale, d // s, axis)
            if offset is not None:
                offset = np.repeat(np.asarray(offset), d // s, axis)
    if offset is not None:
        data = data - np.asarray(offset).astype(np.float32)
    return scale * data


@_op('constexpr_sparse_to_dense')
def _sparse_to_dense(c):
    nonzero = np.asarray(c.req('nonzero_data'))
    mask = np.asarray(c.req('mask'))
    if c.has('shape'):
        shape = _ints(c.req('shape'))
        bits = np.unpackbits(mask.astype(np.uint8).reshape(-1), bitorder='little')[:int(np.prod(shape))]
    else:
        shape = list(mask.shape)
        bits = mask.reshape(-1).astype(bool)
    out = np.zeros(int(np.prod(shape)), nonzero.dtype)
    out[np.flatnonzero(bits)] = nonzero.reshape(-1)
    return out.reshape(shape)


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------

_NP_OF = {k: v[0] for k, v in _MIL_DTYPES.items()}


def _shape_matches(shape, declared):
    return len(shape) == len(declared) and all(d is None or d == s for s, d in zip(shape, declared))


class Model:
    """A saved Core ML model read from disk, ready to be evaluated with numpy."""

    def __init__(self, path, spec, kind):
        self.path, self.spec, self.kind = path, spec, kind
        desc = spec.description
        self.inputs = {}
        for i in desc.input:
            t = i.type.WhichOneof('Type')
            if t == 'imageType':
                it = i.type.imageType
                cs = it.ColorSpace.Name(it.colorSpace)
                self.inputs[i.name] = {'type': 'image', 'height': it.height, 'width': it.width, 'color_space': cs}
            elif t == 'multiArrayType':
                ma = i.type.multiArrayType
                self.inputs[i.name] = {'type': 'tensor', 'shape': list(ma.shape),
                                       'dtype': ma.ArrayDataType.Name(ma.dataType)}
            else:
                self.inputs[i.name] = {'type': t}
        self.output_names = [o.name for o in desc.output]
        self.classifier = bool(desc.predictedFeatureName)
        self.class_label_name = desc.predictedFeatureName or None
        self.probs_name = desc.predictedProbabilitiesName or None

    # -- inputs ------------------------------------------------------------------------------
    def image_tensor(self, name, rgb):
        """An HxWx3 uint8 RGB array as the float32 [1, C, H, W] tensor Core ML makes of an ImageType."""
        info = self.inputs[name]
        rgb = np.asarray(rgb)
        if rgb.shape != (info['height'], info['width'], 3) or rgb.dtype != np.uint8:
            raise UsageError(f'input {name}: image must be uint8 {info["height"]}x{info["width"]}x3, got '
                             f'{rgb.dtype} {"x".join(map(str, rgb.shape))}')
        cs = info['color_space']
        if cs == 'RGB':
            chans = rgb
        elif cs == 'BGR':
            chans = rgb[..., ::-1]
        else:
            raise UnknownOp(f'imageType colorSpace {cs}', name, f'colour space {cs} is not implemented (RGB and BGR are)')
        return np.ascontiguousarray(chans.transpose(2, 0, 1)[None]).astype(np.float32)

    def read_input_file(self, name, file):
        if name not in self.inputs:
            raise UsageError(f'the model has no input {name} (inputs: {", ".join(self.inputs)})')
        info = self.inputs[name]
        if file.endswith('.rgb'):
            if info['type'] != 'image':
                raise UsageError(f'input {name} is a {info["type"]}, not an image: give a .npy tensor')
            raw = np.fromfile(file, dtype=np.uint8)
            h, w = info['height'], info['width']
            if raw.size != h * w * 3:
                raise UsageError(f'{file}: {raw.size} bytes, input {name} needs {h}x{w}x3 = {h * w * 3}')
            return raw.reshape(h, w, 3)
        if file.endswith('.npy'):
            return np.load(file)
        raise UsageError(f'{file}: input files are .npy (tensor) or .rgb (raw uint8 HxWx3)')

    def _feed(self, name, value):
        info = self.inputs[name]
        v = np.asarray(value)
        if info['type'] == 'image':
            if v.dtype == np.uint8 and v.ndim == 3:
                return self.image_tensor(name, v)
            raise UsageError(f'input {name} is an ImageType: give a .rgb file (raw uint8 HxWx3 RGB), not a tensor')
        if info['type'] == 'tensor':
            if info['shape'] and list(v.shape) != info['shape']:
                raise UsageError(f'input {name}: shape {list(v.shape)}, the model takes {info["shape"]}')
            return v.astype({'FLOAT16': np.float16, 'INT32': np.int32, 'DOUBLE': np.float64}.get(info['dtype'], np.float32))
        raise UsageError(f'input {name}: type {info["type"]} is not supported')

    def histogram(self):
        return op_histogram(self.spec)


class MLProgramModel(Model):
    def __init__(self, path, spec, ct, weights_root):
        super().__init__(path, spec, 'mlprogram')
        self._values = _Values(ct, weights_root)
        self.fn_inputs, self.ops, self.block_outputs, self.opset, self.opset_name = _parse_program(spec, self._values, ct)
        self.consts = None
        self.first_nonfinite = None

    def _materialise_constants(self):
        """Evaluate const and constexpr_* ops once (they are compile-time values)."""
        env = {'__values__': self._values}
        for op in self.ops:
            if op.type == 'const' or op.type.startswith('constexpr_'):
                self._run_op(op, env)
        del env['__values__']
        self.consts = env

    def _run_op(self, op, env):
        impl = _OPS.get(op.type)
        if impl is None or op.has_blocks:
            raise UnknownOp(op.type, op.name)
        result = impl(_Ctx(op, env, self.opset))
        # multi-output ops (split, classify) return a tuple, every other op one value
        results = result if isinstance(result, tuple) else (result,)
        if len(results) != len(op.outputs):
            raise ModelError(f'op {op.type} (output {op.name}) gave {len(results)} values for {len(op.outputs)} outputs')
        for (name, t), r in zip(op.outputs, results):
            if t.kind == 'tensor' and t.dtype != 'STRING':
                r = np.asarray(r)
                want = _NP_OF.get(t.dtype)
                if want is None:
                    raise UnknownOp(op.type, name, f'output dtype {t.dtype} is not implemented')
                if t.shape is not None and not _shape_matches(r.shape, t.shape):
                    raise ModelError(f'op {op.type} (output {name}): computed shape {list(r.shape)}, the program declares '
                                     f'{list(t.shape)}')
                if r.dtype != want:
                    r = r.astype(want)
                if self.first_nonfinite is None and r.dtype.kind == 'f' and not np.all(np.isfinite(r)):
                    self.first_nonfinite = {'op': op.type, 'output': name}
            env[name] = r

    def run(self, feeds, keep=()):
        """Evaluate the program. feeds: input name -> uint8 HxWx3 pixels (image) or a tensor.
        Returns {output name: value}; classifier outputs are a label and a {label: probability} dict."""
        if self.consts is None:
            self._materialise_constants()
        self.first_nonfinite = None
        env = dict(self.consts)
        for name, _t in self.fn_inputs:
            if name not in feeds:
                raise UsageError(f'input {name} is missing')
            env[name] = self._feed(name, feeds[name])
        with np.errstate(all='ignore'):  # overflow to inf / nan is reported, not warned about
            for op in self.ops:
                if op.type == 'const' or op.type.startswith('constexpr_'):
                    continue
                self._run_op(op, env)
        outs = {}
        for name in self.block_outputs:
            if name not in env:
                raise ModelError(f'program output {name} was never computed')
            outs[name] = env[name]
        for k in keep:
            if k in env:
                outs.setdefault(k, env[k])
        return outs

    def logits_name(self):
        """For a classifier ending softmax (-> cast) -> classify: the softmax's input (the logits)."""
        producer = {o[0]: op for op in self.ops for o in op.outputs}
        cls = [op for op in self.ops if op.type == 'classify']
        if not cls:
            return None
        name = cls[0].inputs['probabilities'][0][1]
        while name in producer and producer[name].type == 'cast':
            name = producer[name].inputs['x'][0][1]
        if name in producer and producer[name].type == 'softmax':
            return producer[name].inputs['x'][0][1]
        return None


# ----------------------------------------------------------------------------------------------
# NeuralNetwork (.mlmodel) layers: the subset eformer's NeuralNetwork export uses
# ----------------------------------------------------------------------------------------------

def _nn_weights(wp, shape=None):
    """A WeightParams message as float32 (floatValue, or float16Value bytes)."""
    if len(wp.floatValue):
        a = np.array(wp.floatValue, dtype=np.float32)
    elif len(wp.float16Value):
        a = np.frombuffer(wp.float16Value, dtype=np.float16).astype(np.float32)
    elif len(wp.rawValue) or len(wp.int8RawValue):
        raise ModelError('quantized NeuralNetwork weights (rawValue/int8RawValue) are not supported')
    else:
        a = np.zeros(0, np.float32)
    return a.reshape(shape) if shape is not None else a


class NeuralNetworkModel(Model):
    def __init__(self, path, spec):
        super().__init__(path, spec, 'neuralnetwork')
        which = spec.WhichOneof('Type')
        self.nn = getattr(spec, which)
        self.layers = list(self.nn.layers)
        self.opset_name = f'specification version {spec.specificationVersion}'
        self.first_nonfinite = None

    def _preprocess(self, name, x):
        for p in self.nn.preprocessing:
            if p.featureName and p.featureName != name:
                continue
            w = p.WhichOneof('preprocessor')
            if w == 'scaler':
                s = p.scaler
                bias = [s.redBias, s.greenBias, s.blueBias] if self.inputs[name].get('color_space') == 'RGB' else \
                    [s.blueBias, s.greenBias, s.redBias]
                if self.inputs[name].get('color_space') == 'GRAYSCALE':
                    bias = [s.grayBias]
                scale = s.channelScale if s.channelScale != 0 else 1.0
                return x * np.float32(scale) + np.array(bias, np.float32).reshape(1, -1, 1, 1)
            if w == 'meanImage':
                raise UnknownOp('preprocessing.meanImage', name)
        return x

    def run(self, feeds, keep=()):
        self.first_nonfinite = None
        env = {}
        for name, info in self.inputs.items():
            if name not in feeds:
                raise UsageError(f'input {name} is missing')
            x = _f32(self._feed(name, feeds[name]))
            if info['type'] == 'image':
                x = self._preprocess(name, x)
            env[name] = x
        for layer in self.layers:
            kind = layer.WhichOneof('layer')
            impl = _NN_LAYERS.get(kind)
            out0 = layer.output[0] if layer.output else layer.name
            if impl is None:
                raise UnknownOp(kind, out0)
            missing = [i for i in layer.input if i not in env]
            if missing:
                raise ModelError(f'layer {kind} (output {out0}) reads {missing[0]}, which no earlier layer produced')
            with np.errstate(all='ignore'):
                res = impl(layer, getattr(layer, kind), [env[i] for i in layer.input])
            res = res if isinstance(res, tuple) else (res,)
            if len(res) != len(layer.output):
                raise ModelError(f'layer {kind} (output {out0}) gave {len(res)} values for {len(layer.output)} outputs')
            for n, r in zip(layer.output, res):
                env[n] = np.asarray(r, dtype=np.float32)
                if self.first_nonfinite is None and not np.all(np.isfinite(env[n])):
                    self.first_nonfinite = {'op': kind, 'output': n}
        outs = {}
        if self.classifier:
            probs_blob = self.nn.labelProbabilityLayerName or None
            labels = self._labels()
            if probs_blob is None:
                # the classifier's probabilities are the output of the last layer
                probs_blob = self.layers[-1].output[0]
            p = env[probs_blob].reshape(-1).astype(np.float64)
            outs[self.class_label_name] = labels[int(np.argmax(p))]
            outs[self.probs_name] = {k: float(v) for k, v in zip(labels, p)}
        for o in self.output_names:
            if o in outs:
                continue
            if o not in env:
                raise ModelError(f'output {o} was never computed')
            outs[o] = env[o]
        for k in keep:
            if k in env:
                outs.setdefault(k, env[k])
        return outs

    def _labels(self):
        w = self.nn.WhichOneof('ClassLabels')
        if w == 'stringClassLabels':
            return list(self.nn.stringClassLabels.vector)
        if w == 'int64ClassLabels':
            return list(self.nn.int64ClassLabels.vector)
        raise ModelError('classifier without class labels')

    def logits_name(self):
        last = self.layers[-1] if self.layers else None
        if self.classifier and last is not None and last.WhichOneof('layer') in ('softmax', 'softmaxND'):
            return last.input[0]
        return None


_NN_LAYERS = {}


def _nn(*names):
    def register(f):
        for n in names:
            _NN_LAYERS[n] = f
        return f
    return register


@_nn('convolution')
def _nn_conv(layer, p, xs):
    if p.isDeconvolution:
        raise UnknownOp('convolution(deconvolution)', layer.output[0])
    x = xs[0]
    groups = p.nGroups or 1
    kh, kw = (list(p.kernelSize) + [1, 1])[:2] if len(p.kernelSize) else (3, 3)
    w = _nn_weights(p.weights, (p.outputChannels, p.kernelChannels, kh, kw))
    b = _nn_weights(p.bias) if p.hasBias else None
    strides = list(p.stride) or [1, 1]
    dil = list(p.dilationFactor) or [1, 1]
    pt = p.WhichOneof('ConvolutionPaddingType')
    if pt == 'valid':
        borders = p.valid.paddingAmounts.borderAmounts
        pads = [(borders[0].startEdgeSize, borders[0].endEdgeSize), (borders[1].startEdgeSize, borders[1].endEdgeSize)] \
            if len(borders) == 2 else [(0, 0), (0, 0)]
    elif pt == 'same':
        mode = 'same_lower' if p.same.asymmetryMode == 1 else 'same'
        pads = _spatial_pads(_Op('convolution', {}, [(layer.output[0], None)], {}, False), mode, None, x.shape[2:],
                             [kh, kw], strides, dil)
    else:
        raise UnknownOp('convolution', layer.output[0], f'padding type {pt} is not implemented')
    return _conv2d(x, w, b, strides, pads, dil, groups)


@_nn('batchnorm')
def _nn_batchnorm(layer, p, xs):
    x = xs[0]
    c = p.channels
    shape = [1, c] + [1] * (x.ndim - 2) if x.ndim >= 3 else [c]
    g, b = _nn_weights(p.gamma).reshape(shape), _nn_weights(p.beta).reshape(shape)
    if p.computeMeanVar:
        raise UnknownOp('batchnorm', layer.output[0], 'computeMeanVar is not implemented')
    m, v = _nn_weights(p.mean).reshape(shape), _nn_weights(p.variance).reshape(shape)
    return (x - m) / np.sqrt(v + np.float32(p.epsilon)) * g + b


@_nn('activation')
def _nn_activation(layer, p, xs):
    x = xs[0]
    kind = p.WhichOneof('NonlinearityType')
    if kind == 'ReLU':
        return np.maximum(x, 0)
    if kind == 'linear':
        return x * np.float32(p.linear.alpha) + np.float32(p.linear.beta)
    if kind == 'sigmoid':
        return 1 / (1 + np.exp(-x.astype(np.float64)))
    if kind == 'tanh':
        return np.tanh(x.astype(np.float64))
    if kind == 'leakyReLU':
        return np.where(x >= 0, x, x * np.float32(p.leakyReLU.alpha))
    raise UnknownOp(f'activation.{kind}', layer.output[0])


@_nn('clip')
def _nn_clip(layer, p, xs):
    return np.clip(xs[0], np.float32(p.minVal), np.float32(p.maxVal))


@_nn('gelu')
def _nn_gelu(layer, p, xs):
    x = xs[0].astype(np.float64)
    mode = p.Name(p.mode) if hasattr(p, 'Name') else p.GeluMode.Name(p.mode)
    if mode == 'EXACT':
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)))
    if mode == 'TANH_APPROXIMATION':
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    if mode == 'SIGMOID_APPROXIMATION':
        return x / (1 + np.exp(-1.702 * x))
    raise UnknownOp('gelu', layer.output[0], f'mode {mode} is not implemented')


def _nn_broadcast(fn):
    def run(layer, p, xs):
        if len(xs) == 1:
            return fn(xs[0], np.float32(p.alpha))
        out = xs[0]
        for y in xs[1:]:
            out = fn(out, y)
        return out
    return run


_NN_LAYERS['addBroadcastable'] = _nn_broadcast(np.add)
_NN_LAYERS['subtractBroadcastable'] = _nn_broadcast(np.subtract)
_NN_LAYERS['multiplyBroadcastable'] = _nn_broadcast(np.multiply)
_NN_LAYERS['divideBroadcastable'] = _nn_broadcast(np.divide)
_NN_LAYERS['add'] = _nn_broadcast(np.add)
_NN_LAYERS['multiply'] = _nn_broadcast(np.multiply)


@_nn('mvn')
def _nn_mvn(layer, p, xs):
    # normalises over the last two axes (within a channel) or the last three (acrossChannels);
    # epsilon is added to the variance, as in coremltools' layer_norm -> mvn lowering
    x = xs[0]
    axes = (-3, -2, -1) if p.acrossChannels else (-2, -1)
    y = x - x.mean(axis=axes, keepdims=True)
    if p.normalizeVariance:
        y = y / np.sqrt(np.square(y).mean(axis=axes, keepdims=True) + np.float32(p.epsilon))
    return y


def _nn_chw(values, shape):
    """A scale/bias parameter of shape [1], [C] or [C, H, W], laid out against the last three axes."""
    shape = list(shape)
    return values.reshape([shape[0], 1, 1] if len(shape) == 1 else shape)


@_nn('scale')
def _nn_scale(layer, p, xs):
    y = xs[0] * _nn_chw(_nn_weights(p.scale), p.shapeScale)
    if p.hasBias:
        y = y + _nn_chw(_nn_weights(p.bias), p.shapeBias)
    return y


@_nn('bias')
def _nn_bias(layer, p, xs):
    return xs[0] + _nn_chw(_nn_weights(p.bias), p.shape)


@_nn('erf')
def _nn_erf(layer, p, xs):
    return _erf(xs[0])


@_nn('loadConstantND')
def _nn_load_constant(layer, p, xs):
    return _nn_weights(p.data, list(p.shape))


@_nn('innerProduct')
def _nn_inner_product(layer, p, xs):
    # ranks 1-3: over the last axis; rank 4 [x1, C, H, W] / rank 5 [x1, x2, C, H, W]: over the last three
    # axes flattened, giving [x1, Cout, 1, 1] / [x1, x2, Cout, 1, 1]
    x = xs[0]
    w = _nn_weights(p.weights, (p.outputChannels, p.inputChannels))
    lead = x.shape[:-1] if x.ndim <= 3 else x.shape[:-3]
    y = np.matmul(x.reshape(lead + (p.inputChannels,)), w.T)
    if p.hasBias:
        y = y + _nn_weights(p.bias)
    return y if x.ndim <= 3 else y.reshape(lead + (p.outputChannels, 1, 1))


@_nn('batchedMatmul')
def _nn_batched_matmul(layer, p, xs):
    x = xs[0]
    if p.transposeA:
        x = np.swapaxes(x, -1, -2)
    if len(xs) == 2:
        y = xs[1]
        if p.transposeB:
            y = np.swapaxes(y, -1, -2)
        return np.matmul(x, y)
    w = _nn_weights(p.weights, (p.weightMatrixFirstDimension, p.weightMatrixSecondDimension))
    y = np.matmul(x, w)
    if p.hasBias:
        y = y + _nn_weights(p.bias)
    return y


@_nn('softmaxND')
def _nn_softmax_nd(layer, p, xs):
    return _softmax(xs[0], p.axis)


@_nn('softmax')
def _nn_softmax(layer, p, xs):
    return _softmax(xs[0], -3 if xs[0].ndim >= 3 else -1)


@_nn('reshapeStatic')
def _nn_reshape_static(layer, p, xs):
    return xs[0].reshape(list(p.targetShape))


@_nn('transpose')
def _nn_transpose(layer, p, xs):
    return np.transpose(xs[0], list(p.axes))


@_nn('splitND')
def _nn_split(layer, p, xs):
    x = xs[0]
    axis = p.axis % x.ndim
    sizes = list(p.splitSizes) or [x.shape[axis] // p.numSplits] * p.numSplits
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


@_nn('reduceMean')
def _nn_reduce_mean(layer, p, xs):
    x = xs[0]
    axes = tuple(a % x.ndim for a in p.axes) if not p.reduceAll else tuple(range(x.ndim))
    return np.mean(x, axis=axes, keepdims=p.keepDims)


@_nn('pooling')
def _nn_pooling(layer, p, xs):
    x = xs[0]
    kind = {0: 'max', 1: 'avg', 2: 'l2'}[p.type]
    if p.globalPooling:
        return x.max(axis=(2, 3), keepdims=True) if kind == 'max' else x.mean(axis=(2, 3), keepdims=True)
    kernel, strides = list(p.kernelSize), list(p.stride)
    pt = p.WhichOneof('PoolingPaddingType')
    op = _Op('pooling', {}, [(layer.output[0], None)], {}, False)
    if pt == 'valid':
        b = p.valid.paddingAmounts.borderAmounts
        pads = [(b[0].startEdgeSize, b[0].endEdgeSize), (b[1].startEdgeSize, b[1].endEdgeSize)] if len(b) == 2 else [(0, 0)] * 2
        ceil = False
    elif pt == 'includeLastPixel':
        pads = [(p.includeLastPixel.paddingAmounts[0],) * 2, (p.includeLastPixel.paddingAmounts[1],) * 2]
        ceil = True
    elif pt == 'same':
        pads = _spatial_pads(op, 'same', None, x.shape[2:], kernel, strides, [1, 1])
        ceil = False
    else:
        raise UnknownOp('pooling', layer.output[0], f'padding type {pt} is not implemented')
    return _pool2d(op, x, kind, kernel, strides, pads, ceil, p.avgPoolExcludePadding)


@_nn('layerNormalization')
def _nn_layer_norm(layer, p, xs):
    x = xs[0]
    shape = list(p.normalizedShape)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + np.float32(p.eps))
    return y * _nn_weights(p.gamma, shape) + _nn_weights(p.beta, shape)


@_nn('upsample')
def _nn_upsample(layer, p, xs):
    x = xs[0]
    sh, sw = (list(p.fractionalScalingFactor) or list(p.scalingFactor) or [1, 1])[:2]
    if p.mode != 1:  # InterpolationMode NN = 0, BILINEAR = 1
        raise UnknownOp('upsample', layer.output[0], 'nearest-neighbour upsample is not implemented')
    # LinearUpsampleMode: DEFAULT = 0, ALIGN_CORNERS_TRUE = 1, ALIGN_CORNERS_FALSE = 2 (half-pixel, clamped)
    if p.linearUpsampleMode not in (1, 2):
        raise UnknownOp('upsample', layer.output[0], 'linearUpsampleMode DEFAULT is not implemented')
    align = p.linearUpsampleMode == 1
    h, w = x.shape[-2:]
    ho, wo = int(math.floor(h * sh)), int(math.floor(w * sw))
    r0, r1, fr = _bilinear_coords(h, ho, align, not align)
    c0, c1, fc = _bilinear_coords(w, wo, align, not align)
    rows = x[..., r0, :] * (1 - fr)[:, None] + x[..., r1, :] * fr[:, None]
    return rows[..., c0] * (1 - fc) + rows[..., c1] * fc


@_nn('gather')
def _nn_gather(layer, p, xs):
    return np.take(xs[0], xs[1].astype(np.int64), axis=p.axis)


@_nn('squeeze')
def _nn_squeeze(layer, p, xs):
    x = xs[0]
    return np.squeeze(x) if p.squeezeAll else np.squeeze(x, axis=tuple(a % x.ndim for a in p.axes))


@_nn('expandDims')
def _nn_expand_dims(layer, p, xs):
    x = xs[0]
    rank = x.ndim + len(p.axes)
    for a in sorted(a % rank for a in p.axes):
        x = np.expand_dims(x, a)
    return x


@_nn('flattenTo2D')
def _nn_flatten(layer, p, xs):
    x = xs[0]
    a = p.axis % x.ndim if x.ndim else 0
    return x.reshape(int(np.prod(x.shape[:a])), -1)


# ----------------------------------------------------------------------------------------------
# Loading, histogram
# ----------------------------------------------------------------------------------------------

def load(path):
    """Read a saved .mlpackage (ML Program) or .mlmodel (NeuralNetwork) from disk."""
    ct = _coremltools()
    if not os.path.exists(path):
        raise UsageError(f'{path} does not exist')
    try:
        spec = ct.utils.load_spec(path)
    except Exception as e:  # protobuf / package errors come in many types
        raise ModelError(f'{path}: coremltools cannot read it: {str(e).splitlines()[0] if str(e) else type(e).__name__}')
    which = spec.WhichOneof('Type')
    if which == 'mlProgram':
        root = _model_dir(path)
        return MLProgramModel(path, spec, ct, root)
    if which in ('neuralNetwork', 'neuralNetworkClassifier', 'neuralNetworkRegressor'):
        return NeuralNetworkModel(path, spec)
    raise UnknownOp(f'model type {which}', '(model)', f'model type {which} is not an ML Program or NeuralNetwork')


def _model_dir(path):
    """The folder `@model_path` names: where the package's root model spec lives."""
    if os.path.isdir(path):
        from coremltools.libmodelpackage import ModelPackage
        return os.path.dirname(ModelPackage(path).getRootModel().path())
    return os.path.dirname(os.path.abspath(path))


def op_histogram(spec):
    if spec.WhichOneof('Type') == 'mlProgram':
        ops = [op.type for f in spec.mlProgram.functions.values() for b in f.block_specializations.values()
               for op in b.operations]
    else:
        nn = getattr(spec, spec.WhichOneof('Type'))
        ops = [layer.WhichOneof('layer') for layer in nn.layers]
    return dict(collections.Counter(ops))


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------

def _probabilities_vector(model, outs):
    """A classifier's probabilities, in class order."""
    d = outs[model.probs_name]
    return np.array(list(d.values()), dtype=np.float64)


def _compare(got, ref):
    """Largest |got - ref| and that over max |ref|; null (and the count) when got has inf/nan."""
    got, ref = np.asarray(got, np.float64).reshape(-1), np.asarray(ref, np.float64).reshape(-1)
    if got.shape != ref.shape:
        raise UsageError(f'the model gives {got.size} values, the reference has {ref.size}')
    bad = int(np.count_nonzero(~np.isfinite(got)))
    if bad:
        return {'max_abs_error': None, 'max_rel_error': None, 'sqnr_db': None, 'nonfinite_values': bad}
    err = np.abs(got - ref)
    scale = float(np.max(np.abs(ref))) or 1.0
    noise = float(np.sum(err * err))
    # SQNR in dB (signal power over error power); null when the two are identical
    sqnr = 10 * math.log10(float(np.sum(ref * ref)) / noise) if noise > 0 and np.any(ref) else None
    return {'max_abs_error': float(err.max()), 'max_rel_error': float(err.max() / scale), 'sqnr_db': sqnr}


def _topk_agreement(got, ref_logits):
    got, ref = np.asarray(got, np.float64).reshape(-1), np.asarray(ref_logits).reshape(-1)
    got = np.where(np.isnan(got), -np.inf, got)
    g5, r5 = np.argsort(-got, kind='stable')[:5], np.argsort(-ref, kind='stable')[:5]
    return {'top1_agree': bool(g5[0] == r5[0]), 'top5_agree': bool(set(g5.tolist()) == set(r5.tolist())),
            'top1': int(g5[0]), 'top1_reference': int(r5[0])}


def _parse_inputs(model, specs):
    feeds = {}
    for s in specs:
        if '=' not in s:
            raise UsageError(f'--input {s}: expected NAME=FILE')
        name, file = s.split('=', 1)
        if not os.path.isfile(file):
            raise UsageError(f'--input {name}: {file} does not exist')
        feeds[name] = model.read_input_file(name, file)
    return feeds


def _describe(v):
    if isinstance(v, dict):
        return {'type': 'dict', 'size': len(v)}
    if isinstance(v, str):
        return {'type': 'string', 'value': v}
    a = np.asarray(v)
    return {'shape': list(a.shape), 'dtype': str(a.dtype)}


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        print(f'mil_interpreter: {message}', file=sys.stderr)
        sys.exit(2)


def main(argv=None):
    ap = _ArgumentParser(description='numpy reference interpreter for a saved Core ML model')
    ap.add_argument('package', help='.mlpackage (ML Program) or .mlmodel (NeuralNetwork)')
    ap.add_argument('--input', action='append', default=[], metavar='NAME=FILE', help='.npy tensor or .rgb raw uint8 HxWx3')
    ap.add_argument('--out', help='write the outputs to this .npz')
    ap.add_argument('--verify', action='store_true', help='compare with reference logits (--expected-logits)')
    ap.add_argument('--expected-logits', help='raw float32 logits (what onnxruntime gave for the same input)')
    ap.add_argument('--classifier', action='store_true', help='in --verify: the package must be a classifier')
    ap.add_argument('--histogram-only', action='store_true', help='print the op histogram without running')
    args = ap.parse_args(argv)
    try:
        t_load = time.perf_counter()
        model = load(args.package)
        if args.histogram_only:
            print(json.dumps({'package': args.package, 'kind': model.kind, 'opset': model.opset_name,
                              'ops': model.histogram()}))
            return 0
        if args.verify and not args.expected_logits:
            raise UsageError('--verify needs --expected-logits FILE')
        if args.classifier and not model.classifier:
            raise UsageError(f'{args.package} is not a classifier (no predictedFeatureName)')
        feeds = _parse_inputs(model, args.input)
        if isinstance(model, MLProgramModel):
            model._materialise_constants()
        load_s = time.perf_counter() - t_load
        logits_name = model.logits_name() if model.classifier else None
        t0 = time.perf_counter()
        outs = model.run(feeds, keep=[logits_name] if logits_name else [])
        seconds = time.perf_counter() - t0
        report = {'package': args.package, 'kind': model.kind, 'opset': model.opset_name,
                  'seconds': round(seconds, 3), 'load_seconds': round(load_s, 3)}
        if args.verify:
            ref = np.fromfile(args.expected_logits, dtype=np.float32).astype(np.float64)
            if model.classifier:
                probs = _probabilities_vector(model, outs)
                e = np.exp(ref - ref.max())
                report.update({'compared': 'probabilities', **_compare(probs, e / e.sum())})
                # top-k from the logits when the program exposes them: probabilities can underflow to ties
                if logits_name:
                    report.update({**_topk_agreement(outs[logits_name], ref), 'topk_from': 'logits'})
                    report['logits'] = {'name': logits_name, **_compare(outs[logits_name], ref)}
                else:
                    report.update({**_topk_agreement(probs, ref), 'topk_from': 'probabilities'})
                report['class_label'] = str(outs[model.class_label_name])
            else:
                name = [o for o in model.output_names][0]
                report.update({'compared': f'output {name}', **_compare(outs[name], ref), **_topk_agreement(outs[name], ref)})
        if model.first_nonfinite:
            report['first_nonfinite'] = model.first_nonfinite
        report['outputs'] = {k: _describe(v) for k, v in outs.items() if k in model.output_names}
        report['ops'] = model.histogram()
        if args.out:
            arrays = {}
            for k, v in outs.items():
                if isinstance(v, dict):
                    arrays[k] = np.array(list(v.values()), np.float64)
                    arrays[k + '.keys'] = np.array([str(x) for x in v.keys()])
                elif isinstance(v, str):
                    arrays[k] = np.array(v)
                else:
                    arrays[k] = np.asarray(v)
            tmp = args.out + '.partial.npz'
            np.savez(tmp, **arrays)
            os.replace(tmp, args.out)
            report['out'] = args.out
        print(json.dumps(report, allow_nan=False))
        return 0
    except UnknownOp as e:
        print(f'mil_interpreter: {e}', file=sys.stderr)
        return 10
    except UsageError as e:
        print(f'mil_interpreter: {e}', file=sys.stderr)
        return 2
    except ModelError as e:
        print(f'mil_interpreter: {e}', file=sys.stderr)
        return 12


if __name__ == '__main__':
    sys.exit(main())
