#!/usr/bin/env python3
"""The MIL interpreter's iOS17 quantize / dequantize against coremltools' own implementation of them
(coremltools.optimize._utils: quantize_by_scale_and_zp, dequantize_by_scale_and_zp, what the ops'
value inference calls), over int8 and uint8, fp16 and fp32, scalar and per-axis parameters, with and
without zero points, values on rounding ties and beyond the range.

    python test/mil_ops_check.py        prints one JSON line; exit 1 on the first disagreement
"""
import json
import logging
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python'))
logging.getLogger('coremltools').setLevel(logging.ERROR)
import mil_interpreter as mi  # noqa: E402
from coremltools.optimize._utils import dequantize_by_scale_and_zp, quantize_by_scale_and_zp  # noqa: E402


class _Op:
    def __init__(self, op_type, inputs):
        self.type, self.name = op_type, f'{op_type}_check'
        self.inputs = {k: [('val', v)] for k, v in inputs.items() if v is not None}


def interpret(op_type, **inputs):
    return mi._OPS[op_type](mi._Ctx(_Op(op_type, inputs), {}, 17))


def cases():
    rng = np.random.default_rng(0)
    shape = (2, 3, 4)
    for src in (np.float16, np.float32):
        for dst in ('int8', 'uint8'):
            qdt = np.int8 if dst == 'int8' else np.uint8
            lo, hi = np.iinfo(qdt).min, np.iinfo(qdt).max
            for axis in (None, 0, 1, -1):
                n = 1 if axis is None else shape[axis]
                scale = (rng.uniform(0.01, 0.2, n)).astype(src)
                for with_zp in (False, True):
                    zp = rng.integers(lo, hi, n, endpoint=True).astype(qdt) if with_zp else None
                    if axis is None:
                        scale_arg, zp_arg = scale.reshape(()), (None if zp is None else zp.reshape(()))
                    else:
                        scale_arg, zp_arg = scale, zp
                    # values on exact .5 ties of the grid, random values, and values far outside the range
                    bshape = [1, 1, 1]
                    if axis is not None:
                        bshape[axis] = -1
                    s = scale.astype(np.float64).reshape(bshape)
                    ties = ((rng.integers(-300, 300, shape) + 0.5) * s).astype(src)
                    noise = rng.normal(0, 40, shape).astype(src) * scale.reshape(bshape).astype(src)
                    for x in (ties, noise, np.full(shape, 1e4, src), np.full(shape, -1e4, src)):
                        yield dict(src=src, dst=dst, axis=axis, x=x, scale=scale_arg, zp=zp_arg)


def main():
    np.seterr(all='ignore')  # the out-of-range cases overflow fp16 on purpose
    checked = 0
    for c in cases():
        kw = dict(scale=c['scale'], zero_point=c['zp'], axis=None if c['axis'] is None else np.int32(c['axis']))
        got_q = interpret('quantize', input=c['x'], output_dtype=c['dst'], **kw)
        ref_scale = c['scale'] if c['axis'] is None else mi_broadcast(c['scale'], c['x'], c['axis'])
        ref_zp = None if c['zp'] is None else (c['zp'] if c['axis'] is None else mi_broadcast(c['zp'], c['x'], c['axis']))
        want_q = quantize_by_scale_and_zp(c['x'], ref_scale, ref_zp, c['dst'])
        if got_q.dtype != want_q.dtype or not np.array_equal(got_q, want_q):
            bad = np.argwhere(got_q != want_q)[:3].tolist()
            print(json.dumps({'op': 'quantize', 'src': np.dtype(c['src']).name, 'dst': c['dst'], 'axis': c['axis'],
                              'zero_point': c['zp'] is not None, 'first_differences': bad}))
            return 1
        got_d = interpret('dequantize', input=want_q, **kw)
        want_d = dequantize_by_scale_and_zp(want_q, np.asarray(c['scale']), None if c['zp'] is None else np.asarray(c['zp']), c['axis'])
        if not np.array_equal(got_d.astype(want_d.dtype), want_d):
            print(json.dumps({'op': 'dequantize', 'src': np.dtype(c['src']).name, 'dst': c['dst'], 'axis': c['axis'],
                              'zero_point': c['zp'] is not None}))
            return 1
        checked += 1
    print(json.dumps({'checked': checked}))
    return 0


def mi_broadcast(param, data, axis):
    shape = [1] * data.ndim
    shape[axis] = -1
    return np.asarray(param).reshape(shape)


if __name__ == '__main__':
    sys.exit(main())
