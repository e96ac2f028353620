/**
 * Sizes are bounded before work starts: a checkpoint cannot make eformer allocate much more than
 * the file holds, and its numbers are checked before they index anything; a model config's fields
 * each lie in a stated range and agree with each other; what is built is bounded by its parameters,
 * MACs and activations; inputs by their total; threads by the cores.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { mulberry32 } from '../../src/core/random.js';
import { median } from '../../src/core/stats.js';
import { bootstrapChange } from '../../src/gate/compare.js';
import { families, zoo } from '../../src/models/index.js';
import { CheckpointError } from '../../src/weights/errors.js';
import { readCheckpoint, readCheckpointBytes } from '../../src/weights/checkpoint.js';
import { readTorchZip } from '../../src/weights/torch-zip.js';
import { resizeBicubic, resizeBicubicBox } from '../../src/images/resample.js';
import { cliWith } from '../fakes.js';
import { root } from '../helpers.js';
import { checkpoints, doublingPickle, file, flatPng, hf, manyInputsOnnx, results, work } from './inputs.js';
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

/** One `--config` file of `family` with `config` (the family's own fields), named `name` unless null. */
function configFile(family: string, config: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return file(`config-${Math.random().toString(36).slice(2)}.json`, JSON.stringify({ schema: 'eformer.config/1', family, name: 'custom', ...extra, config }));
}
const s0 = { widths: [32, 48, 96, 176], depths: [2, 2, 6, 4], vitNum: 2, expansionRatios: [[4, 4], [4, 4], [4, 3, 3, 3, 4, 4], [4, 3, 3, 4]] };

/** The CLI's result must be one `eformer: ` line matching `line`, exit 2. */
async function refused(args: string[], line: RegExp): Promise<void> {
  const r = await cliWith(env, ...args);
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^eformer: /);
  expect(lines[0]).toMatch(line);
}

describe('model configs: every field within a stated range, the fields agreeing with each other', () => {
  /** A complete config of every family (its first zoo model's), as JSON fields. */
  const bases = families.map((family) => [family.id, family, JSON.parse(JSON.stringify(zoo.find((m) => m.family === family)!.config))] as const);

  it('every zoo model\'s config lies within the ranges (as a --config file it is accepted)', () => {
    for (const m of zoo) expect(() => m.family.config(JSON.parse(JSON.stringify(m.config)), m.name), m.name).not.toThrow();
  });

  it.each(bases)('%s: every numeric field set to 10^9 is refused, naming the field', (_, family, base) => {
    for (const [field, value] of Object.entries(base)) {
      let huge: unknown;
      if (typeof value === 'number') huge = 1e9;
      else if (Array.isArray(value) && typeof value[0] === 'number') huge = [1e9, ...value.slice(1)];
      else if (Array.isArray(value) && Array.isArray(value[0])) huge = [[1e9, ...value[0].slice(1)], ...value.slice(1)];
      else continue;
      expect(() => family.config({ ...base, [field]: huge }, 'c.json'), field).toThrow(new RegExp(`^c\\.json: ${field}(\\[0\\])* is 1000000000; eformer builds`));
    }
  });

  it.each(bases)('%s: a per-stage list one entry short is refused', (_, family, base) => {
    for (const [field, value] of Object.entries(base)) {
      // MobileNetV2's settings are rows of blocks, not stages: any number of rows is a network.
      if (!Array.isArray(value) || field === 'settings') continue;
      expect(() => family.config({ ...base, [field]: value.slice(0, -1) }, 'c.json'), field).toThrow(UsageError);
    }
  });

  it('a V2 config with 3 widths and 4 depths is refused, not built as a 3-stage net', async () => {
    await refused(['count', '--config', configFile('efficientformerv2', { ...s0, widths: [32, 48, 96] })], /widths, depths, expansionRatios need one entry per stage; got widths 3, depths 4, expansionRatios 4/);
  });

  it('a config 1,000 blocks deep is refused at once (8,000 ran for 100 s)', async () => {
    const depth = 1000;
    await refused(['count', '--config', configFile('efficientformerv2', { ...s0, depths: [2, 2, depth, 4], expansionRatios: [[4, 4], [4, 4], Array(depth).fill(4), [4, 3, 3, 4]] })], /depths\[2\] is 1000; eformer builds 1 to 64/);
  });

  it('widths of 100,000 and 10^9 classes are refused, naming the field (export exited 70)', async () => {
    await refused(['count', '--config', configFile('efficientformerv2', { ...s0, widths: [32, 48, 96, 100000] })], /widths\[3\] is 100000; eformer builds 1 to 4096/);
    await refused(['count', '--config', configFile('efficientformerv2', { ...s0, numClasses: 1e9 })], /numClasses is 1000000000; eformer builds 1 to 100000/);
  });

  it('a config named like a zoo model must be that model: another network under its name is refused', async () => {
    await refused(['count', '--config', configFile('efficientformerv2', { ...s0, widths: [32, 48, 96, 180] }, { name: 'efficientformerv2_s0' })], /the name 'efficientformerv2_s0' belongs to a zoo model with another configuration; change its 'name'/);
    await refused(['count', '--config', configFile('mobilenetv2', {}, { name: 'efficientformerv2_s0' })], /belongs to a zoo model with another family/);
    const same = await cliWith(env, 'count', '--config', configFile('efficientformerv2', s0, { name: 'efficientformerv2_s0' }), '--json');
    expect(same.code, same.stderr).toBe(0);
    // A Hugging Face config is named after its folder: the same rule.
    const folder = join(work, 'efficientformer_l1');
    mkdirSync(folder);
    writeFileSync(join(folder, 'config.json'), readFileSync(hf({}), 'utf8'));
    await refused(['count', '--hf-config', join(folder, 'config.json')], /the name 'efficientformer_l1' belongs to a zoo model with another configuration; rename its folder/);
  });
});

describe('what is built is bounded as a whole: parameters, MACs, activations', () => {
  it('a Hugging Face config within every field limit that would be 0.5 billion parameters is refused while building', async () => {
    await refused(['count', '--hf-config', hf({ hidden_sizes: [2048, 2048, 2048, 2048], depths: [1, 1, 1, 1], mlp_expansion_ratio: 16 })], /has more than 250,000,000 parameters and buffers .*eformer builds models of at most 250 M parameters/);
  });

  it('V2 at 2048 pixels: its attention tables alone pass the parameter limit, refused before they are made', async () => {
    await refused(['count', '-m', 'efficientformerv2_l', '-r', '2048'], /at most 250 M parameters/);
  });

  it('a network of 1,700 G MACs an image is refused, naming the limit', async () => {
    const settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 256, 64, 2], [6, 256, 64, 1]];
    await refused(['count', '--config', configFile('mobilenetv2', { settings }, { resolution: 1024 })], /custom at 1024x1024 needs 1673 G MACs an image; eformer builds at most 1000 G/);
  });

  it('Next-ViT at 2048 holds 12 GiB of activations at once: refused', async () => {
    await refused(['count', '-m', 'nextvit_small', '-r', '2048'], /nextvit_small at 2048x2048 holds 12\.0 GiB of activations at once; eformer builds at most 4 GiB \(lower --resolution\)/);
  });

  it('the input limit counts all inputs together: four inputs of 2^26 are refused (each alone was allowed)', async () => {
    const onnx = manyInputsOnnx('four-inputs.onnx', [[1, 2 ** 26], [1, 2 ** 26], [1, 2 ** 26], [1, 2 ** 26]]);
    await refused(['profile', '--onnx', onnx, '--runs', '1'], /its inputs hold 268435456 values in all .*eformer feeds at most 134217728 \(128 Mi\) over all inputs/);
  });

  it('--threads far beyond the cores is refused (99999 grew to 16.7 GB); above the cores it only warns', async () => {
    const max = 4 * availableParallelism();
    await refused(['profile', '-m', 'mobilenetv2_100', '--threads', '99999'], new RegExp(`--threads 99999 is out of range: eformer runs 1 to ${max} threads here`));
    await refused(['lut', 'build', '--family', 'efficientformerv2', '--threads', String(max + 1), '-o', join(work, 'lut.json')], /out of range/);
    await refused(['profile', '-m', 'mobilenetv2_100', '-b', 'ort-android', '--threads', '65'], /--threads 65 is more than any phone's cores; eformer runs 1 to 64 threads on a device/);
  });
});

describe('images: sized from the header before decoding, and only the crop resized', () => {
  const hfModel = join(root, 'fixtures/checkpoints/v1_tiny_hf');
  const predict = (...images: string[]) => cliWith(env, 'predict', '--hf-config', join(hfModel, 'config.json'), '--ckpt', join(hfModel, 'model.safetensors'), ...images);

  it('resizing only the crop gives the bytes of resizing the whole image and cutting the crop out', () => {
    let seed = 7;
    const byte = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 24;
    // Shrinking and enlarging, on either axis, one axis unchanged, odd sizes.
    for (const [w, h, W, H] of [[320, 240, 341, 256], [97, 300, 256, 791], [1000, 50, 5120, 256], [256, 400, 256, 400], [256, 900, 256, 437]]) {
      const image = { width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, byte) };
      const whole = resizeBicubic(image, W, H);
      const box = { left: Math.floor((W - 224) / 2), top: Math.floor((H - 224) / 2), width: 224, height: 224 };
      const crop = resizeBicubicBox(image, W, H, box);
      for (let y = 0; y < 224; y++) {
        const row = whole.data.subarray(((box.top + y) * W + box.left) * 3, ((box.top + y) * W + box.left + 224) * 3);
        expect(crop.data.subarray(y * 224 * 3, (y + 1) * 224 * 3), `${w}x${h} -> ${W}x${H}, row ${y}`).toEqual(row);
      }
    }
  });

  it('a 4 KB 1x1,000,000 PNG is refused from its header, one line (was: exit 70)', async () => {
    const png = await flatPng('strip.png', 1, 1_000_000);
    const r = await predict(png);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/strip\.png is 1x1000000 pixels: eformer takes images whose long side is at most 100 times the short one/);
  });

  it('a 1x3000 PNG is refused (it took 690 MB); a 3000x40 one, within the ratio, is predicted', async () => {
    expect((await predict(await flatPng('thin.png', 1, 3000))).stderr).toMatch(/thin\.png is 1x3000 pixels/);
    const wide = await predict(await flatPng('wide.png', 3000, 40), '--json');
    expect(wide.code, wide.stderr).toBe(0);
    expect(JSON.parse(wide.stdout)[0].top).toHaveLength(5);
  });

  it('--calib DIR images go through the same check', async () => {
    const dir = join(work, 'calib');
    mkdirSync(dir);
    await flatPng('calib/a.png', 300, 300);
    await flatPng('calib/b.png', 1, 3000);
    const r = await cliWith(env, 'export', '-m', 'mobilenetv2_100', '--onnx', '--int8', '--calib', dir, '-o', join(work, 'calib-out'));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/b\.png is 1x3000 pixels/);
  });
});

describe("the gate's bootstrap: bounded work, the same verdicts", () => {
  it('a model with 100,000 samples a side is refused at once, naming the limit (a million took minutes, deaf to Ctrl-C)', async () => {
    const many = (shift: number) => file(`many-${shift}.json`, results((r) => (r.latency_ms.samples = Array.from({ length: 100_000 }, (_, i) => 10 + shift + (i % 7) * 0.01))));
    await refused(['gate', '--baseline', many(0), '--current', many(0.01), '--raw-medians'], /efficientformer_l1 has 100000 baseline and 100000 current samples; the gate resamples at most 20000 a model \(2000 times\), and profile keeps at most 10000 runs/);
    await refused(['profile', '-m', 'mobilenetv2_100', '--runs', '10001'], /--runs must be an integer of at most 10000, got '10001'/);
  });

  it('resampling by rank gives exactly the intervals of sorting every resample', () => {
    // The straightforward bootstrap, as it was: draw b then a, sort each resample for its median.
    const sorting = (a: number[], b: number[], resamples: number) => {
      const next = mulberry32(1);
      const draw = (xs: number[]) => median(Array.from(xs, () => xs[Math.floor(next() * xs.length)]));
      const changes = Float64Array.from({ length: resamples }, () => draw(b) / draw(a) - 1).sort();
      return [changes[Math.floor(0.025 * resamples)], changes[Math.ceil(0.975 * resamples) - 1]];
    };
    const random = mulberry32(9);
    for (const [na, nb] of [[1, 1], [5, 6], [20, 20], [21, 40], [300, 299]]) {
      // Ties included: latencies rounded to 0.1 ms.
      const a = Array.from({ length: na }, () => 10 + Math.round(random() * 20) / 10);
      const b = Array.from({ length: nb }, () => 10.2 + random());
      expect(bootstrapChange(a, b, 400), `${na} and ${nb} samples`).toEqual(sorting(a, b, 400));
    }
  });
});
