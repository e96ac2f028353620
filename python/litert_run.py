#!/usr/bin/env python3
"""Run a .tflite file in LiteRT's own interpreter (ai-edge-litert), the way an Android app's CPU path
runs it: the default op resolver, which applies the XNNPACK delegate. eformer calls this for
`export --tflite --verify` and its tests.

    python litert_run.py MODEL.tflite --input X.f32 --shape 1,224,224,3 --out Y.f32 [--count K] [--threads N]

X.f32 holds K input tensors (default 1) exactly as the model takes them, raw little-endian float32
of that shape one after the other (NHWC for eformer's models). The first output of each run is
written to Y.f32 the same way, in the same order.

Delegation: after the delegate is applied, the interpreter's node list holds the original operators
followed by one DELEGATE node per partition XNNPACK took. Which original operators a partition
replaced is not exposed to Python, so it is reconstructed from the data flow: a partition holds the
operators that lie between its DELEGATE node's inputs and outputs (walking back from its outputs to
its inputs). An operator in no partition runs on LiteRT's own kernels, outside XNNPACK; the report
names each.

Output: one JSON line on stdout. Exit codes: 0 ran; 2 bad usage or input files; 11 a Python
package is missing (ai_edge_litert or numpy); 12 LiteRT could not load the model (the message names
the operator when LiteRT does); 13 LiteRT failed while running it. Errors are one line on stderr.
"""
import argparse
import json
import os
import re
import sys
import time


def fail(code, message):
    sys.stderr.write(message.replace('\n', ' ').strip() + '\n')
    sys.exit(code)


def load_error_line(err):
    """LiteRT's load errors span several lines; keep the one naming the operator, if any."""
    text = str(err)
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for pattern in (r"builtin opcode '([A-Z0-9_]+)'", r'Node number \d+ \(([A-Z0-9_]+)\)', r'custom op[^:]*: ?([A-Za-z0-9_]+)'):
        for line in lines:
            m = re.search(pattern, line)
            if m:
                return m.group(1), line
    return None, lines[0] if lines else type(err).__name__


def describe_load_failure(litert, model, err):
    """One line 'OP: message'. When XNNPACK failed as a whole, LiteRT's own kernels load the model
    again without it, and their error names the operator; if they load it, XNNPACK alone refused it."""
    op, line = load_error_line(err)
    if op:
        return f'{op}: {line}'
    try:
        plain = litert.Interpreter(model_path=model, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        plain.allocate_tensors()
    except Exception as again:  # noqa: BLE001
        op, line = load_error_line(again)
        return f'{op or "?"}: {line}'
    return f'XNNPACK: {line} (LiteRT\'s own kernels load the model)'


def partitions(ops):
    """The original operators each DELEGATE node replaced, from the data flow (see the module doc)."""
    originals = [o for o in ops if o['op_name'] != 'DELEGATE']
    producer = {}
    for o in originals:
        for t in o['outputs']:
            producer[int(t)] = o
    taken = {}
    for d in (o for o in ops if o['op_name'] == 'DELEGATE'):
        boundary = {int(t) for t in d['inputs']}
        stack = [int(t) for t in d['outputs']]
        seen = set()
        while stack:
            t = stack.pop()
            if t in seen or t in boundary:
                continue
            seen.add(t)
            o = producer.get(t)
            if o is None:
                continue
            taken[o['index']] = d['index']
            stack.extend(int(i) for i in o['inputs'] if i >= 0)
    return originals, taken


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model')
    parser.add_argument('--input', required=True)
    parser.add_argument('--shape', required=True, help='comma-separated dimensions of the input')
    parser.add_argument('--out', required=True)
    parser.add_argument('--count', type=int, default=1, help='how many inputs X.f32 holds')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()

    try:
        import numpy as np
        from ai_edge_litert import interpreter as litert
    except ImportError as err:
        fail(11, f'{err} (LiteRT\'s interpreter is the ai-edge-litert package)')

    try:
        shape = [int(d) for d in args.shape.split(',')]
        xs = np.fromfile(args.input, dtype='<f4').reshape([args.count, *shape])
    except Exception as err:  # noqa: BLE001 - any unreadable input is the caller's mistake
        fail(2, f'cannot read {args.input} as float32 {args.shape}: {err}')

    start = time.perf_counter()
    try:
        interpreter = litert.Interpreter(model_path=args.model, num_threads=args.threads)
        interpreter.allocate_tensors()
    except Exception as err:  # noqa: BLE001 - LiteRT raises ValueError/RuntimeError for a bad model
        fail(12, describe_load_failure(litert, args.model, err))
    load_seconds = time.perf_counter() - start

    details = interpreter.get_input_details()[0]
    if list(details['shape']) != shape or details['dtype'] != np.float32:
        fail(2, f'the input is float32 {shape}; the model takes {np.dtype(details["dtype"]).name} {list(details["shape"])}')
    output = interpreter.get_output_details()[0]
    seconds = 0.0
    with open(args.out, 'wb') as out:
        for x in xs:
            try:
                interpreter.set_tensor(details['index'], x)
                start = time.perf_counter()
                interpreter.invoke()
                seconds += time.perf_counter() - start
            except Exception as err:  # noqa: BLE001
                op, line = load_error_line(err)
                fail(13, f'{op or "?"}: {line}')
            out.write(np.ascontiguousarray(interpreter.get_tensor(output['index']), dtype='<f4').tobytes())

    ops = interpreter._get_ops_details()  # noqa: SLF001 - the only view of the delegated graph
    originals, taken = partitions(ops)
    outside = [{'index': int(o['index']), 'op': o['op_name']} for o in originals if o['index'] not in taken]
    print(json.dumps({
        'litert': getattr(litert, '__version__', None) or _version(),
        'input': {'name': details['name'], 'shape': [int(d) for d in details['shape']]},
        'output': {'name': output['name'], 'shape': [int(d) for d in output['shape']]},
        'delegation': {
            'ops': len(originals),
            'delegated': len(originals) - len(outside),
            'partitions': sum(1 for o in ops if o['op_name'] == 'DELEGATE'),
            'outside': outside,
        },
        'load_seconds': load_seconds,
        'seconds': seconds,
    }))


def _version():
    try:
        from importlib.metadata import version
        return version('ai-edge-litert')
    except Exception:  # noqa: BLE001
        return None


if __name__ == '__main__':
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    main()
