#!/usr/bin/env python3
"""One .tflite, cold, in a process of its own: what an app pays to open it and the memory it holds.
eformer's litert backend runs it once per model (src/backends/cold-start.ts reads its one line).

    litert_cold_start.py MODEL.tflite THREADS RUNS

LiteRT and numpy are imported first (the runtime's code is not the model's); the peak resident set
is then reset (Linux: /proc/self/clear_refs), and the Interpreter is created and its tensors
allocated (load), invoked once (first run) and RUNS-1 more times. It prints
    eformer-cold-start {"load_ms": .., "first_run_ms": .., "before": {"rss": B, "peak": B}, "loaded": .., "end": .., "peak_reset": true}
with resident sizes in bytes from /proc/self/status (null where there is no /proc). Exit 3 when
LiteRT cannot be imported, 1 when the model fails.
"""
import json
import sys
import time


def resident():
    try:
        with open('/proc/self/status') as f:
            fields = dict(line.split(':', 1) for line in f if ':' in line)
        kb = lambda name: int(fields[name].split()[0]) * 1024
        return {'rss': kb('VmRSS'), 'peak': kb('VmHWM')}
    except (OSError, KeyError, ValueError):
        return None


def reset_peak():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def main():
    model, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        import numpy as np
        from ai_edge_litert import interpreter as litert
    except ImportError as err:
        print(f'cannot import LiteRT: {err}', file=sys.stderr)
        return 3
    peak_reset = reset_peak()
    before = resident()
    start = time.perf_counter_ns()
    interpreter = litert.Interpreter(model_path=model, num_threads=threads)
    interpreter.allocate_tensors()
    load_ms = (time.perf_counter_ns() - start) / 1e6
    loaded = resident()
    for d in interpreter.get_input_details():
        shape = [int(x) for x in d['shape']]
        data = np.sin(np.arange(int(np.prod(shape)), dtype=np.float64) * 0.37).reshape(shape)
        interpreter.set_tensor(d['index'], data.astype(d['dtype']))
    start = time.perf_counter_ns()
    interpreter.invoke()
    first_run_ms = (time.perf_counter_ns() - start) / 1e6
    for _ in range(runs - 1):
        interpreter.invoke()
    end = resident()
    line = {'load_ms': load_ms, 'first_run_ms': first_run_ms, 'before': before, 'loaded': loaded, 'end': end, 'peak_reset': peak_reset}
    print('eformer-cold-start ' + json.dumps(line), flush=True)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except Exception as err:  # the model failed to load or run: one line, for eformer's message
        print(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__, file=sys.stderr)
        sys.exit(1)
