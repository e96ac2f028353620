import { describe, expect, it } from 'vitest';
import { parsePerfTest, PerfTestOutputError, perfTestFailure } from '../src/backends/ort-android/perf-test.js';

// What onnxruntime_perf_test -I -m times -r 5 -s -x 1 prints (a recent build).
const RECENT = `Setting intra_op_num_threads to 1
Disabling intra-op thread spinning between runs
Session creation time cost: 0.217932 s
First inference time cost: 196 ms
Total inference time cost: 0.49481 s
Total inference requests: 5
Average inference time cost total: 98.961997 ms
Total inference run time: 0.494854 s
Number of inferences per second: 10.104
Avg CPU usage: 11 %
Peak working set size: 271122432 bytes
Avg CPU usage:11
Peak working set size:271122432
Runs:5
Min Latency: 0.0958204 s
Max Latency: 0.101519 s
P50 Latency: 0.0995086 s
P90 Latency: 0.101519 s
P95 Latency: 0.101519 s
P99 Latency: 0.101519 s
P999 Latency: 0.101519 s
`;

describe('parsePerfTest', () => {
  it('reads the figures of a recent build, latencies from seconds to ms', () => {
    const r = parsePerfTest(RECENT);
    expect(r.loadMs).toBeCloseTo(217.932, 9);
    expect(r.firstRunMs).toBe(196);
    expect(r.threads).toBe(1);
    expect(r.summary.runs).toBe(5);
    expect(r.summary.mean).toBeCloseTo(98.961997, 9);
    expect(r.summary.min).toBeCloseTo(95.8204, 9);
    expect(r.summary.max).toBeCloseTo(101.519, 9);
    expect(r.summary.median).toBeCloseTo(99.5086, 9);
    expect(r.summary.p90).toBeCloseTo(101.519, 9);
    expect(r.summary.p99).toBeCloseTo(101.519, 9);
  });

  it('reads an older build that prints "Average inference time cost" and no thread line, with Windows line ends', () => {
    const older = RECENT.replace('Average inference time cost total:', 'Average inference time cost:')
      .split('\n')
      .filter((l) => !l.startsWith('Setting') && !l.startsWith('Disabling'))
      .join('\r\n');
    const r = parsePerfTest(older);
    expect(r.summary.mean).toBeCloseTo(98.961997, 9);
    expect(r.summary.median).toBeCloseTo(99.5086, 9);
    expect(r.threads).toBeUndefined();
  });

  it('reads the scientific notation C++ streams use for small values', () => {
    const tiny = RECENT.replace('P50 Latency: 0.0995086 s', 'P50 Latency: 9.58e-05 s').replace('Session creation time cost: 0.217932 s', 'Session creation time cost: 1.5E-2 s');
    const r = parsePerfTest(tiny);
    expect(r.summary.median).toBeCloseTo(0.0958, 12);
    expect(r.loadMs).toBeCloseTo(15, 12);
  });

  it('takes the run count from "Total inference requests" when "Runs:" is absent', () => {
    expect(parsePerfTest(RECENT.replace('Runs:5\n', '')).summary.runs).toBe(5);
  });

  it('names the one figure that is missing', () => {
    expect(() => parsePerfTest(RECENT.replace(/^P50 Latency.*\n/m, ''))).toThrow(/^missing "P50 Latency" \(was it run with -s\?/);
  });

  it('names every missing figure when the statistics (-s) were not printed', () => {
    const noStats = RECENT.split('\n').filter((l) => !l.includes('Latency')).join('\n');
    expect(() => parsePerfTest(noStats)).toThrow('missing "Min Latency", "Max Latency", "P50 Latency", "P90 Latency", "P99 Latency"');
  });

  it('names the line it cannot read: a figure without a time unit, or a count that is not one', () => {
    expect(() => parsePerfTest(RECENT.replace('First inference time cost: 196 ms', 'First inference time cost: 196'))).toThrow('cannot read "First inference time cost: 196"');
    expect(() => parsePerfTest(RECENT.replace('Runs:5', 'Runs:0').replace('Total inference requests: 5', 'Total inference requests: x'))).toThrow('cannot read "Runs:0"');
  });

  it('a figure that is not a number is missing', () => {
    expect(() => parsePerfTest(RECENT.replace('Max Latency: 0.101519 s', 'Max Latency: nan s'))).toThrow(/^missing "Max Latency"/);
  });

  it('says plainly when the output is not perf_test statistics at all', () => {
    expect(() => parsePerfTest('usage: perf_test [options...] model_path [result_file]\nOptions:\n\t-m [test_mode]\n')).toThrow(
      'none of its figures were printed (it ended with "-m [test_mode]")',
    );
    expect(() => parsePerfTest('')).toThrow('none of its figures were printed (no output)');
    expect(() => parsePerfTest('\u0000\u00ff garbage ::: 12 ms ::')).toThrow(PerfTestOutputError);
  });
});

describe('perfTestFailure', () => {
  it('names the signal from the shell exit code (128 + N) or its message', () => {
    expect(perfTestFailure('Setting intra_op_num_threads to 2\nSegmentation fault\n', 139)).toBe('onnxruntime_perf_test crashed (SIGSEGV)');
    expect(perfTestFailure('Bus error\n', 1)).toBe('onnxruntime_perf_test crashed (SIGBUS)');
    expect(perfTestFailure('', 137)).toBe('onnxruntime_perf_test crashed (SIGKILL) (the phone may have run out of memory)');
  });

  it('an abort carries the exception that caused it', () => {
    const output = "libc++abi: terminating due to uncaught exception of type Ort::Exception: Load model from model.onnx failed\nAborted\n";
    expect(perfTestFailure(output, 134)).toBe(
      'onnxruntime_perf_test crashed (SIGABRT): libc++abi: terminating due to uncaught exception of type Ort::Exception: Load model from model.onnx failed',
    );
  });

  it('a binary that cannot start, and any other failure with its last line', () => {
    expect(perfTestFailure('CANNOT LINK EXECUTABLE "./onnxruntime_perf_test": library "libonnxruntime.so" not found\n', 1)).toMatch(
      /^onnxruntime_perf_test cannot start: CANNOT LINK EXECUTABLE .*libonnxruntime\.so" not found \(put libonnxruntime\.so next to --perf-test\)$/,
    );
    expect(perfTestFailure('/system/bin/sh: ./onnxruntime_perf_test: not executable: 64-bit ELF file\n', 126)).toMatch(/cannot run on this device/);
    expect(perfTestFailure('Error: [ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an implementation for Foo\n', 255)).toBe(
      'onnxruntime_perf_test exited with 255: Error: [ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an implementation for Foo',
    );
  });
});
