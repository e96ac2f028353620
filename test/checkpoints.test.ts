import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWithWeights, entry, families, type ModelEntry, onnxBytes } from '../src/index.js';
import { readCheckpointBytes } from '../src/weights/checkpoint.js';
import { CheckpointError } from '../src/weights/errors.js';
import { cli, EQUIVALENCE_RTOL, equivalence, root, runOnnx, tempDir, testInput } from './helpers.js';

const dir = join(root, 'fixtures/checkpoints');
const fixture = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'));

/** The custom variant a fixture describes, as an eformer spec. */
function specOf(f: { family: string; config: Record<string, unknown> }, name: string): ModelEntry {
  const family = families.find((x) => x.id === f.family)!;
  return entry({ name, family, config: family.config(f.config, name) });
}

async function logitsOf(spec: ModelEntry | undefined, ckpt: string, hfConfig?: string): Promise<Float32Array> {
  const built = buildWithWeights({ spec, hfConfig, ckpt });
  return runOnnx(onnxBytes(built).bytes, testInput(), [1, 3, 224, 224]);
}

describe(`checkpoints load into graphs that equal the PyTorch reference (max |diff| <= ${EQUIVALENCE_RTOL} x max |logit|)`, () => {
  const v1 = fixture('v1_tiny.json');
  const v2 = fixture('v2_tiny.json');
  const hf = fixture('v1_tiny_hf.json');
  const mnv2 = fixture('mnv2_tiny.json');
  const cases: [string, ModelEntry | undefined, string, number[], string?][] = [
    ['V1, original naming (.pth)', specOf(v1, 'v1_tiny'), v1.files.snap, v1.logits],
    ['V1, timm naming (.safetensors)', specOf(v1, 'v1_tiny'), v1.files.timm, v1.logits],
    ['V1, float16 storages', specOf(v1, 'v1_tiny'), v1.files.fp16, v1.fp16_logits],
    ['V1, bfloat16 storages', specOf(v1, 'v1_tiny'), v1.files.bf16, v1.bf16_logits],
    ['V2, original naming (.pth)', specOf(v2, 'v2_tiny'), v2.files.snap, v2.logits],
    ['V2, timm naming (.safetensors)', specOf(v2, 'v2_tiny'), v2.files.timm, v2.logits],
    ['V2, {"state_dict"} with DDP module. prefix', specOf(v2, 'v2_tiny'), v2.files.ddp, v2.logits],
    ['V2, {"model_ema"} wrapper', specOf(v2, 'v2_tiny'), v2.files.ema, v2.logits],
    ['V2, bare state_dict (.safetensors)', specOf(v2, 'v2_tiny'), v2.files.bare, v2.logits],
    // {'model', 'optimizer', 'epoch', 'args': argparse.Namespace}: the Namespace loads as an empty dict, unread.
    ['V2, a training script\'s checkpoint with its argparse.Namespace', specOf(v2, 'v2_tiny'), 'v2_tiny.training.pth', v2.logits],
    ['V1, Hugging Face naming with its config.json', undefined, hf.files.hf, hf.logits, hf.files.config],
    ['MobileNetV2 against torchvision itself (torchvision naming)', specOf(mnv2, 'mnv2_tiny'), mnv2.files.torchvision, mnv2.logits],
  ];
  for (const [label, spec, file, expected, config] of cases) {
    it(label, async () => {
      const ours = await logitsOf(spec, join(dir, file), config && join(dir, config));
      expect(ours.length).toBe(expected.length);
      const { diff, bound } = equivalence(ours, expected);
      if (process.env.EFORMER_PRINT_DIFFS) console.log(`${label}: max |diff| ${diff.toExponential(2)} (bound ${bound.toExponential(2)})`);
      expect(diff).toBeLessThanOrEqual(bound);
    });
  }

  it('the bound catches a real mistake: the Hugging Face LayerNorm eps read as PyTorch\'s 1e-5, not 1e-12', async () => {
    const folder = tempDir();
    const config = JSON.parse(readFileSync(join(dir, hf.files.config), 'utf8'));
    writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...config, layer_norm_eps: 1e-5 }));
    const ours = await logitsOf(undefined, join(dir, hf.files.hf), join(folder, 'config.json'));
    const { diff, bound } = equivalence(ours, hf.logits);
    expect(diff).toBeGreaterThan(2 * bound);
  });

  it('the fixtures really contain every block type and stay small', () => {
    for (const f of readdirSync(dir).filter((n) => /\.(pth|safetensors)$/.test(n))) expect(readFileSync(join(dir, f)).length).toBeLessThan(1_200_000);
    const v2keys = [...readCheckpointBytes(readFileSync(join(dir, v2.files.snap))).stateDict.keys()];
    expect(v2keys.some((k) => k.includes('token_mixer.stride_conv'))).toBe(true); // AttnFFN with stride
    expect(v2keys.some((k) => /network\.6\.\d\.token_mixer\.q\./.test(k))).toBe(true); // AttnFFN without
    expect(v2keys.some((k) => k.startsWith('network.5.attn.'))).toBe(true); // attention downsampling
    const v1keys = [...readCheckpointBytes(readFileSync(join(dir, v1.files.snap))).stateDict.keys()];
    expect(v1keys.some((k) => k.includes('token_mixer.qkv'))).toBe(true); // Meta3D
    expect(v1keys.some((k) => /network\.6\.0\.mlp\.fc1/.test(k))).toBe(true); // Meta4D in the last stage, then Flat at 1
  });
});

describe('bad checkpoints: one clear error, nothing executed', () => {
  const bytes = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
  const fails = (data: Uint8Array, pattern: RegExp) => {
    let error: unknown;
    try {
      readCheckpointBytes(data);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(pattern);
  };

  it('a pickle that would call os.system is refused, naming the global', () => {
    fails(bytes('evil.pth'), /refusing to load: .*'posix\.system'/);
    expect(existsSync('/tmp/eformer-pwned')).toBe(false);
  });

  it('a zip without data.pkl', () => fails(bytes('nopkl.pth'), /no data\.pkl/));

  it('a truncated zip', () => {
    const b = bytes('v1_tiny.pth');
    fails(b.subarray(0, Math.floor(b.length * 0.6)), /corrupted zip|truncated/);
  });

  it('a zip whose central directory is garbage', () => {
    const b = bytes('v1_tiny.pth').slice();
    const eocd = b.length - 22;
    new DataView(b.buffer).setUint32(eocd + 16, 0x7fffff00, true); // central directory offset
    fails(b, /corrupted zip/);
  });

  /** safetensors bytes with its JSON header replaced. */
  function withHeader(mutate: (h: Record<string, { data_offsets: number[]; shape: number[] }>) => void): Uint8Array {
    const b = bytes(fixture('v2_tiny.json').files.bare);
    const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
    mutate(header);
    const text = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + text.length + (b.length - 8 - n));
    new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
    out.set(text, 8);
    out.set(b.subarray(8 + n), 8 + text.length);
    return out;
  }

  it('a safetensors header that lies about offsets', () => {
    fails(
      withHeader((h) => {
        const key = Object.keys(h).find((k) => k !== '__metadata__')!;
        h[key].data_offsets = [h[key].data_offsets[0] + 4, h[key].data_offsets[1] + 4];
      }),
      /overlaps|lies outside|needs/,
    );
  });

  it('a safetensors header claiming a tensor far larger than the file', () => {
    fails(
      withHeader((h) => {
        const key = Object.keys(h).find((k) => k !== '__metadata__')!;
        h[key].shape = [1 << 20, 1 << 20];
        h[key].data_offsets = [0, 4 * 2 ** 40];
      }),
      /outside the file/,
    );
  });

  it('a safetensors length prefix larger than the file', () => {
    const b = bytes(fixture('v2_tiny.json').files.bare).slice();
    new DataView(b.buffer).setBigUint64(0, 1n << 50n, true);
    expect(() => readCheckpointBytes(b)).toThrow(CheckpointError);
  });

  it('a checkpoint for another model lists missing, unexpected and mis-shaped keys together', () => {
    const v1 = fixture('v1_tiny.json');
    expect(() => buildWithWeights({ model: 'efficientformer_l1', ckpt: join(dir, v1.files.snap) })).toThrow(
      /does not match efficientformer_l1: .*missing.*wrong shape \(patch_embed\.0\.weight: checkpoint \[8, 3, 3, 3\], model \[24, 3, 3, 3\]/,
    );
  });
});

describe('CLI with --ckpt', () => {
  it('export --hf-config + --ckpt writes the model', async () => {
    const out = tempDir();
    const hf = fixture('v1_tiny_hf.json');
    const r = await cli('export', '--hf-config', join(dir, hf.files.config), '--ckpt', join(dir, hf.files.hf), '--onnx', '-o', out);
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(['v1_tiny_hf.onnx']);
  });

  it('count --ckpt proves the checkpoint matches', async () => {
    const r = await cli('count', '--hf-config', join(dir, 'v1_tiny_hf/config.json'), '--ckpt', join(dir, 'v1_tiny_hf/model.safetensors'), '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0].model).toBe('v1_tiny_hf');
  });

  it.each([
    ['evil.pth', /refusing to load/],
    ['nopkl.pth', /no data\.pkl/],
    // Another family's checkpoint is named as such, not listed as hundreds of missing keys.
    ['v1_tiny.pth', /^eformer: checkpoint holds efficientformer weights \(121 of its 121 parameter names are efficientformer's\), not efficientformerv2 ones: use one of efficientformer_l1, efficientformer_l3, efficientformer_l7$/m],
    ['mnv2_tiny.pth', /checkpoint holds mobilenetv2 weights .* not efficientformerv2 ones: use one of mobilenetv2_100, mobilenetv2_140$/m],
    // A variant of the right family with other widths: the keys and shapes that differ.
    ['v2_tiny.pth', /^eformer: checkpoint \(original naming\) does not match efficientformerv2_s0: \d+ missing .*with the wrong shape \(patch_embed.0.weight: checkpoint \[8, 3, 3, 3\], model \[16, 3, 3, 3\]/m],
  ])('%s: exit 2, one line, no output file', async (file, pattern) => {
    const out = tempDir();
    const r = await cli('export', '--model', 'efficientformerv2_s0', '--ckpt', join(dir, file), '--onnx', '-o', out);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(readdirSync(out)).toEqual([]);
  });

  it('a missing checkpoint file', async () => {
    const r = await cli('count', '--model', 'efficientformer_l1', '--ckpt', '/nonexistent.pth');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read --ckpt checkpoint '\/nonexistent.pth': no such file/);
  });
});

describe('fuzz: random and mutated bytes only ever load or fail cleanly', () => {
  // A fixed-seed generator keeps failures reproducible.
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const seeds = ['v1_tiny.fp16.pth', 'v2_tiny.bare.safetensors', 'nopkl.pth'].map((n) => new Uint8Array(readFileSync(join(dir, n))));

  function attempt(data: Uint8Array) {
    try {
      readCheckpointBytes(data);
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw new Error(`unclean failure ${(e as Error).name}: ${(e as Error).message}`);
    }
  }

  it('survives a bounded run of mutations', () => {
    // A fixed count, not a deadline: the same inputs on every machine, however fast.
    let runs = 0;
    while (runs < 2000) {
      const base = seeds[runs % seeds.length];
      const data = base.slice();
      const kind = runs % 4;
      if (kind === 0) for (let i = 0; i < 1 + rand() * 20; i++) data[Math.floor(rand() * data.length)] = Math.floor(rand() * 256);
      if (kind === 1) attempt(data.subarray(0, Math.floor(rand() * data.length)));
      else if (kind === 2) for (let i = 0; i < 8; i++) data[Math.floor(rand() * Math.min(600, data.length))] = Math.floor(rand() * 256); // headers
      else if (kind === 3) attempt(Uint8Array.from({ length: Math.floor(rand() * 4096) }, () => Math.floor(rand() * 256)));
      attempt(data); // throws, failing the test, on anything but a clean CheckpointError
      runs++;
    }
  });

  it('mutations inside the pickle itself', () => {
    const pth = seeds[0];
    // The pickle sits in the first entries of the archive; hit the first few kilobytes hardest.
    for (let i = 0; i < 1500; i++) {
      const data = pth.slice();
      for (let j = 0; j < 3; j++) data[Math.floor(rand() * 3000)] = Math.floor(rand() * 256);
      attempt(data);
    }
  });
});
