#!/usr/bin/env python3
"""eformer's LiteRT timing worker: a long-lived process that holds one LiteRT Interpreter per model
(ai-edge-litert, XNNPACK applied by default, as on an Android CPU) and times single invoke() calls
on request, so that eformer's own loop interleaves models and the process boundary stays out of the
figure: each time is taken here, with time.perf_counter_ns() immediately around invoke().

Protocol: one JSON object per line. The worker first prints
    {"ready": true, "litert": "2.3.0", "python": "3.11.7"}
or, when ai_edge_litert (or numpy) cannot be imported,
    {"ready": false, "missing": "No module named 'ai_edge_litert'"}     and exits with 3.
Then, for each request line on stdin, one reply line with the same "id":
    {"id": 1, "op": "open", "path": "m.tflite", "threads": 2}  -> {"id": 1, "ok": true, "handle": 1, "inputs": [...]}
    {"id": 2, "op": "run", "handle": 1, "count": 1}             -> {"id": 2, "ok": true, "ns": [12345678]}
    {"id": 3, "op": "close", "handle": 1}                       -> {"id": 3, "ok": true}
A request that fails answers {"id": N, "ok": false, "error": "...", "op": "GELU" (when LiteRT names one)}.

The protocol has stdout to itself: file descriptor 1 is moved to a private one at start and fd 1
is pointed at stderr, so whatever native code prints cannot corrupt a reply. The worker exits when
stdin closes (eformer ended), and on Linux also when its parent dies.
"""
import json
import os
import re
import sys
import time

# Replies go to a private copy of stdout; anything printed to fd 1 afterwards lands on stderr.
protocol = os.fdopen(os.dup(1), 'w', buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def reply(message):
    protocol.write(json.dumps(message) + '\n')
    protocol.flush()


def die_with_parent():
    """Linux: the kernel kills this process when eformer dies, even by SIGKILL."""
    try:
        import ctypes
        import signal
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def named_op(text):
    """The operator LiteRT names in an error, if any."""
    for pattern in (r"builtin opcode '([A-Z0-9_]+)'", r'Node number \d+ \(([A-Z0-9_]+)\)', r'custom op[^:]*: ?([A-Za-z0-9_]+)'):
        m = re.search(pattern, text)
        if m:
            return m.group(1)
    return None


def one_line(err):
    lines = [l.strip() for l in str(err).splitlines() if l.strip()]
    op = named_op(str(err))
    # LiteRT's errors span lines; keep the one naming the operator, else the first.
    line = next((l for l in lines if op and op in l), lines[0] if lines else type(err).__name__)
    return line, op


def fill(detail, np):
    """Deterministic input values: what fills an input does not change CPU latency, but NaNs could."""
    shape = [int(d) for d in detail['shape']]
    dtype = detail['dtype']
    n = int(np.prod(shape)) if shape else 1
    if np.issubdtype(dtype, np.floating):
        return np.sin(np.arange(n, dtype=np.float64) * 0.37).astype(dtype).reshape(shape)
    return np.zeros(shape, dtype=dtype)


def main():
    die_with_parent()
    try:
        import numpy as np
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as err:
        reply({'ready': False, 'missing': str(err)})
        sys.exit(3)
    try:
        from importlib.metadata import version
        litert = version('ai-edge-litert')
    except Exception:
        litert = None
    reply({'ready': True, 'litert': litert, 'python': sys.version.split()[0]})

    models = {}
    next_handle = 1
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        rid = request.get('id')
        op = request.get('op')
        try:
            if op == 'open':
                threads = int(request['threads'])
                try:
                    interpreter = Interpreter(model_path=request['path'], num_threads=threads)
                    interpreter.allocate_tensors()
                    inputs = interpreter.get_input_details()
                    for detail in inputs:
                        interpreter.set_tensor(detail['index'], fill(detail, np))
                    # One run outside any timing: a model that cannot run fails here, once.
                    interpreter.invoke()
                except Exception as err:
                    message, named = one_line(err)
                    reply({'id': rid, 'ok': False, 'error': message, 'op': named, 'load': True})
                    continue
                handle = next_handle
                next_handle += 1
                models[handle] = interpreter
                reply({'id': rid, 'ok': True, 'handle': handle, 'inputs': [{'name': d['name'], 'shape': [int(x) for x in d['shape']], 'dtype': str(np.dtype(d['dtype']))} for d in inputs]})
            elif op == 'run':
                interpreter = models[request['handle']]
                count = int(request.get('count', 1))
                invoke = interpreter.invoke
                clock = time.perf_counter_ns
                times = []
                for _ in range(count):
                    start = clock()
                    invoke()
                    times.append(clock() - start)
                reply({'id': rid, 'ok': True, 'ns': times})
            elif op == 'close':
                models.pop(request['handle'], None)
                reply({'id': rid, 'ok': True})
            else:
                reply({'id': rid, 'ok': False, 'error': f'unknown request {op!r}'})
        except Exception as err:
            message, named = one_line(err)
            reply({'id': rid, 'ok': False, 'error': message, 'op': named})


if __name__ == '__main__':
    main()
