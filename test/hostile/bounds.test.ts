/**
 * Sizes are bounded before work starts: a checkpoint cannot make eformer allocate much more than
 * the file holds, and its numbers are checked before they index anything.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/weights/errors.js';
import { readCheckpoint, readCheckpointBytes } from '../../src/weights/checkpoint.js';
import { readTorchZip } from '../../src/weights/torch-zip.js';
import { cliWith } from '../fakes.js';
import { checkpoints, doublingPickle, work } from './inputs.js';
import { torchCheckpoint } from './torch-writer.js';

const env = process.env as Record<string, string>;

/** The CheckpointError reading `bytes` throws (the test fails on any other outcome). */
function refusal(bytes: Uint8Array): string {
  try {
    readCheckpointBytes(bytes);
  } catch (err) {
    if (err instanceof CheckpointError) return err.message;
    throw err;
  }
  throw new Error('the checkpoint loaded');
}
const read = (path: string) => new Uint8Array(readFileSync(path));

describe('checkpoints: every number checked before it indexes or sizes anything', () => {
  it.each([
    ['NaN', checkpoints.nanOffset],
    ['Infinity', checkpoints.infiniteOffset],
    ['-1', checkpoints.negativeOffset],
    ['2^60', checkpoints.hugeOffset],
  ])('a storage offset of %s is refused (NaN passed the bounds check and made a 0-byte initializer)', (_, path) => {
    expect(refusal(read(path))).toMatch(/a tensor's storage offset is not made of whole numbers/);
  });

  it('tensors that repeat one stored float into 20 x 6000 x 6000 are refused before any copy (3 KB once grew to 2.9 GB)', () => {
    expect(read(checkpoints.expanded).length).toBeLessThan(4000);
    expect(refusal(read(checkpoints.expanded))).toMatch(/\[6000,6000\] with strides \[0,0\] is no plain slice .* copying it needs 144000000 bytes; eformer copies such tensors only up to the file's own size/);
  });

  it('an expanded tensor of 10^10 elements is refused, not an internal error', () => {
    expect(refusal(read(checkpoints.expandedHuge))).toMatch(/\[100000,100000\] .* copying it needs 40000000000 bytes/);
  });

  it('a strided tensor within the file\'s size is still gathered, element by element', () => {
    // A 3x2 transpose of the storage [0..5] viewed as 2x3: strides [1, 3].
    const bytes = torchCheckpoint([{ name: 't', shape: [3, 2], stride: [1, 3] }], [Float32Array.from([0, 1, 2, 3, 4, 5])]);
    const t = readCheckpointBytes(bytes).stateDict.get('t')!;
    expect(t.shape).toEqual([3, 2]);
    expect([...(t.data as Float32Array)]).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('a list that contains itself is refused (was: Maximum call stack size exceeded, exit 70)', () => {
    expect(refusal(read(checkpoints.cycle))).toMatch(/contains itself/);
  });

  it('lists nested 100,000 deep are refused at the depth limit (was: exit 70)', () => {
    expect(refusal(read(checkpoints.deep))).toMatch(/nested more than 64 deep/);
  });

  it('one APPENDS of 300,000 items loads as data (was: the call stack overflowed)', () => {
    expect(refusal(read(checkpoints.longAppends))).toMatch(/non-tensor entry 'model'/);
  });

  it('an object the memo places in many lists is walked once and stays one object (copying it doubled per level)', () => {
    const root = readTorchZip(doublingPickle(20)) as Map<unknown, unknown>;
    let list = (root.get('model') as unknown[])[19] as unknown[];
    for (let level = 19; level > 0; level--) {
      expect(list).toHaveLength(2);
      expect(list[0]).toBe(list[1]);
      list = list[0] as unknown[];
    }
  });

  it.each([
    ['NaN offset', checkpoints.nanOffset, /storage offset/],
    ['expanded tensors', checkpoints.expanded, /copies such tensors only up to the file's own size/],
    ['a cycle', checkpoints.cycle, /contains itself/],
    ['deep nesting', checkpoints.deep, /nested more than 64 deep/],
  ])('CLI: %s is one line naming the file, exit 2', async (_, path, line) => {
    const r = await cliWith(env, 'count', '-m', 'efficientformer_l1', '--ckpt', path);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^eformer: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    expect(lines[0]).toMatch(line);
  });
});

describe('safetensors: the header is checked against the file before any tensor is made', () => {
  /** A safetensors file of one F32 tensor with the given header fields and `data` bytes of data. */
  function safetensors(entry: Record<string, unknown>, data: number, headerLength?: bigint): Uint8Array {
    const text = new TextEncoder().encode(JSON.stringify({ t: { dtype: 'F32', ...entry } }));
    const out = new Uint8Array(8 + text.length + data);
    new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(text.length), true);
    out.set(text, 8);
    return out;
  }

  it('a shape whose element count passes 2^53 cannot match any byte range', () => {
    expect(refusal(safetensors({ shape: [2 ** 40, 2 ** 40], data_offsets: [0, 16] }, 16))).toMatch(/needs/);
  });

  it('a header length of 2^63 is refused without reading on', () => {
    expect(() => readCheckpointBytes(safetensors({ shape: [4], data_offsets: [0, 16] }, 16, 2n ** 63n))).toThrow(CheckpointError);
  });

  it('a tensor at an offset that is not 4-aligned reads its own bytes from a file (a Buffer\'s slice() viewed the file\'s first bytes)', () => {
    let bytes = safetensors({ shape: [3], data_offsets: [0, 12] }, 12);
    if ((bytes.length - 12) % 4 === 0) bytes = safetensors({ shape: [3], data_offsets: [0, 12], pad: 'x' }, 12);
    new Float32Array(3).fill(0).forEach((_, i) => new DataView(bytes.buffer).setFloat32(bytes.length - 12 + 4 * i, i + 1.5, true));
    const path = join(work, 'unaligned.safetensors');
    writeFileSync(path, bytes);
    expect([...(readCheckpoint(path).stateDict.get('t')!.data as Float32Array)]).toEqual([1.5, 2.5, 3.5]);
  });

  it('offsets that are not whole numbers are refused', () => {
    expect(refusal(safetensors({ shape: [4], data_offsets: [0.5, 16.5] }, 17))).toMatch(/bad shape or offsets/);
  });
});
