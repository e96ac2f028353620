/**
 * What is particular to VCMamba (test/families.test.ts checks its counts and fixtures with the
 * default lowering, test/coreml-families.test.ts vcmamba_s through Core ML):
 * - the fixtures really hold every block type, on an odd and an even grid;
 * - the scan orders are PlainMamba2D's (the spec's 7x7 lists, and both parities);
 * - every scan lowering equals the reference code on both fixtures, keeps the parameter names, and
 *   the alternatives run through the Core ML bridge and its interpreter as well;
 * - resolutions and configs the architecture cannot take fail in one line;
 * - the deployment passes it brought (BN before a 1x1 conv, parameter-only ops, a second bias
 *   add) change the graph as they claim and not its outputs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanOrders } from '../../src/models/vcmamba/scan.js';
import {
  buildWithWeights,
  DEPLOY_PASSES,
  deployGraph,
  entry,
  exportModel,
  foldBatchNorm,
  foldPreBatchNorm,
  foldBiasAdd,
  GraphBuilder,
  lowerToOnnx,
  onnxBytes,
  type Pass,
  precomputeParameterOps,
  randomizeWeights,
  readCheckpoint,
  type ScanLowering,
  vcmamba,
} from '../../src/index.js';
import { cli, equivalence, maxAbsDiff, root, runOnnx, tempDir, testInput } from '../helpers.js';

interface Fixture {
  name: string;
  config: Record<string, unknown>;
  resolution: number;
  checkpoints: { reference: string };
  logits: number[];
}

const base = join(root, 'fixtures/families/vcmamba');
const fixtures: Fixture[] = JSON.parse(readFileSync(join(base, 'reference.json'), 'utf8')).fixtures;
const LOWERINGS: ScanLowering[] = ['unrolled', 'chunked', 'parallel'];

const spec = (f: Fixture, scan: ScanLowering = 'unrolled') => entry({ name: f.name, family: vcmamba, config: vcmamba.config({ ...f.config, scan }, f.name) });
const withWeights = (f: Fixture, scan?: ScanLowering) => buildWithWeights({ spec: spec(f, scan), ckpt: join(base, f.checkpoints.reference), resolution: f.resolution });
const logitsOf = (f: Fixture, bytes: Uint8Array) => runOnnx(bytes, testInput(f.resolution), [1, 3, f.resolution, f.resolution]);
const count = (ops: string[], op: string) => ops.filter((o) => o === op).length;

describe('vcmamba fixtures hold every block type', () => {
  it('one fixture on the released odd 7x7 grid, one on an even grid', () => {
    expect(fixtures.map((f) => f.config.posEmbedGrid)).toEqual([7, 4]);
    for (const f of fixtures) expect(Math.ceil(f.resolution / 32)).toBe(f.config.posEmbedGrid);
  });

  for (const f of fixtures) {
    it(f.name, () => {
      const sd = readCheckpoint(join(base, f.checkpoints.reference)).stateDict;
      const keys = [...sd.keys()];
      const grid = f.config.posEmbedGrid as number;
      expect(sd.get('pos_embed')?.shape).toEqual([1, 32, grid, grid]);
      const required = [
        'patch_embed.0.weight', // ReLU stem
        'patch_embed.4.running_var',
        'network.1.proj.weight', // Embedding
        'network.5.norm.num_batches_tracked',
        'network.6.0.layer_scale_2', // FFN
        'network.6.0.mlp.mid.weight',
        'norm.weight',
        'head.weight',
        'dist_head.bias',
      ];
      // Two PlainMambaLayers, so one scan feeds the next.
      for (const block of [1, 2]) {
        const p = `network.6.${block}`;
        required.push(`${p}.norm.running_mean`, `${p}.norm2.weight`, `${p}.mlp.fc1.weight`);
        for (const m of ['in_conv.0.weight', 'in_conv.1.running_var', 'conv2d.bias', 'x_proj.weight', 'dt_proj.bias', 'A_log', 'D', 'direction_Bs', 'norm.weight', 'out_conv.1.weight', 'out_conv.2.bias']) {
          required.push(`${p}.mamba.${m}`);
        }
      }
      expect(required.filter((k) => !keys.includes(k))).toEqual([]);
      // init_layer_scale=None: the Mamba blocks have no gamma, and x_proj no bias.
      expect(keys.filter((k) => k.endsWith('.gamma') || k.endsWith('x_proj.bias'))).toEqual([]);
    });
  }
});

describe('scan orders are PlainMamba2D get_permute_order', () => {
  /** a..b inclusive, counting down when a > b (the spec's notation). */
  const run = (a: number, b: number) => Array.from({ length: Math.abs(b - a) + 1 }, (_, i) => (a <= b ? a + i : a - i));
  const rows = (...lines: [number, number][]) => lines.flatMap(([a, b]) => run(a, b));
  const codes = (first: number, turns: number[], along: [number, number], length: number) =>
    turns.flatMap((turn, i) => [i === 0 ? first : turn, ...new Array(length - 1).fill(along[i % 2])]);

  it('7x7, as the spec lists them (odd: scans 2 and 4 start at the bottom-right corner)', () => {
    const [o1, o2, o3, o4] = scanOrders(7, 7);
    expect(o1.order).toEqual(rows([0, 6], [13, 7], [14, 20], [27, 21], [28, 34], [41, 35], [42, 48]));
    expect(o2.order).toEqual(rows([48, 42], [35, 41], [34, 28], [21, 27], [20, 14], [7, 13], [6, 0]));
    const column = (j: number, down: boolean) => (down ? run(0, 6) : run(6, 0)).map((i) => i * 7 + j);
    expect(o3.order).toEqual(run(0, 6).flatMap((j) => column(j, j % 2 === 0)));
    expect(o4.order).toEqual(run(6, 0).flatMap((j, n) => column(j, n % 2 === 1)));
    expect(o1.codes).toEqual(codes(0, new Array(7).fill(4), [1, 2], 7));
    expect(o2.codes).toEqual(codes(0, new Array(7).fill(3), [2, 1], 7));
    expect(o3.codes).toEqual(codes(0, new Array(7).fill(1), [4, 3], 7));
    expect(o4.codes).toEqual(codes(0, new Array(7).fill(2), [3, 4], 7));
  });

  it('4x4 (even: scan 2 starts bottom-left going right, scan 4 top-right going down)', () => {
    const [, o2, , o4] = scanOrders(4, 4);
    expect(o2.order).toEqual(rows([12, 15], [11, 8], [4, 7], [3, 0]));
    expect(o2.codes).toEqual([0, 1, 1, 1, 3, 2, 2, 2, 3, 1, 1, 1, 3, 2, 2, 2]);
    expect(o4.order).toEqual([3, 7, 11, 15, 14, 10, 6, 2, 1, 5, 9, 13, 12, 8, 4, 0]);
    expect(o4.codes).toEqual([0, 4, 4, 4, 2, 3, 3, 3, 2, 4, 4, 4, 2, 3, 3, 3]);
  });

  it('each order visits every cell once and its inverse undoes it (6x8, 5x4, 1x3)', () => {
    for (const [H, W] of [[6, 8], [5, 4], [1, 3]]) {
      for (const o of scanOrders(H, W)) {
        expect([...o.order].sort((a, b) => a - b)).toEqual(run(0, H * W - 1));
        expect(o.order.map((p) => o.inverse[p])).toEqual(run(0, H * W - 1));
      }
    }
  });
});

describe('every scan lowering equals the reference code', () => {
  for (const f of fixtures) {
    for (const scan of LOWERINGS) {
      it(`${f.name}, ${scan}`, async () => {
        const { diff, bound } = equivalence(await logitsOf(f, onnxBytes(withWeights(f, scan)).bytes), f.logits);
        if (process.env.EFORMER_PRINT_DIFFS) console.log(`vcmamba/${f.name} (${scan}): max |diff| ${diff.toExponential(2)} (bound ${bound.toExponential(2)})`);
        expect(diff).toBeLessThanOrEqual(bound);
      });
    }
  }

  it('the lowerings share their parameter names and differ where they claim (vcmamba_s at 224)', () => {
    const graphs = LOWERINGS.map((scan) => vcmamba.build(vcmamba.config({ widths: [32, 64, 144, 288], depths: [4, 4, 12, 8], mambaBlocks: 4, scan }, 's'), { resolution: 224 }));
    const names = graphs.map((g) => [...g.params.values()].filter((p) => p.role !== 'constant').map((p) => p.name));
    expect(names[1]).toEqual(names[0]);
    expect(names[2]).toEqual(names[0]);
    const nodes = graphs.map((g) => g.nodes.length);
    // unrolled: a few nodes for each of 49 steps; chunked: 7 chunks carried in 5 steps; parallel: no recurrence.
    expect(nodes[0]).toBeGreaterThan(nodes[1]);
    expect(nodes[1]).toBeGreaterThan(nodes[2]);
    // Matrix products per block: unrolled, each step's readout; chunked, segment sums, chunk states and
    // prefix sums; parallel, segment sums and the states.
    expect(graphs.map((g) => count(g.nodes.map((n) => n.op), 'MatMul'))).toEqual([4 * 49, 4 * 3, 4 * 2]);
  });

  for (const scan of ['chunked', 'parallel'] as const) {
    it(`${scan} runs through the Core ML bridge and equals onnxruntime there (fp32)`, async () => {
      const f = fixtures[0];
      const result = await exportModel({ spec: spec(f, scan), ckpt: join(base, f.checkpoints.reference), resolution: f.resolution, outDir: tempDir(), coreml: { precision: 'fp32', verify: true } });
      expect(result.numerics?.problem).toBeUndefined();
      expect(result.numerics?.pass).toBe(true);
    }, 120_000);
  }
});

describe('resolutions and configs it cannot take', () => {
  const expectOneLine = (stderr: string, pattern: RegExp) => {
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(pattern);
  };

  for (const resolution of [192, 256]) {
    it(`vcmamba_s at ${resolution}: exit 2, one line naming 193 to 224, nothing written`, async () => {
      const dir = join(tempDir(), 'out');
      const r = await cli('export', '--model', 'vcmamba_s', '--resolution', String(resolution), '--onnx', '--out-dir', dir);
      expect(r.code).toBe(2);
      expectOneLine(r.stderr, new RegExp(`vcmamba_s cannot take resolution ${resolution}: its position embedding is fixed to a 7x7 stage-3 grid .*use 193 to 224`));
      expect(existsSync(dir)).toBe(false);
    });
  }

  it('the ends of that range build', async () => {
    for (const resolution of ['193', '224']) expect((await cli('count', '--model', 'vcmamba_b', '--resolution', resolution)).code).toBe(0);
  });

  it('a fixture built at 128 takes 97 to 128', () => {
    const f = fixtures[1];
    expect(() => vcmamba.checkResolution(spec(f).config, 96, f.name)).toThrow(/4x4 stage-3 grid \(ceil\(R\/32\) must be 4, not 3x3\): use 97 to 128/);
    expect(() => vcmamba.checkResolution(spec(f).config, 97, f.name)).not.toThrow();
  });

  it('configs the reference would run wrongly or not at all', () => {
    const tiny = { widths: [8, 16, 24, 32], depths: [1, 1, 1, 3] };
    // More Mamba blocks than the stage has: the reference would run some twice.
    expect(() => vcmamba.config({ ...tiny, mambaBlocks: 4 }, 'x')).toThrow(/mambaBlocks must be 1 to depths\[3\] \(3\), got 4/);
    expect(() => vcmamba.config({ ...tiny, mambaBlocks: 0 }, 'x')).toThrow(/mambaBlocks is 0; eformer builds 1 to 64/);
    expect(() => vcmamba.config({ ...tiny, mambaBlocks: 1, scan: 'loop' }, 'x')).toThrow(/scan must be 'unrolled', 'chunked', 'parallel', got 'loop'/);
    expect(() => vcmamba.config({ widths: [8, 16, 32], depths: [1, 1, 1], mambaBlocks: 1 }, 'x')).toThrow(/four stages/);
  });
});

describe('deployment passes on VCMamba', () => {
  const f = fixtures[0];
  const opsAfter = (passes: readonly Pass[]) => deployGraph(withWeights(f).graph, passes).nodes.map((n) => n.op);

  /** The fixture's logits with `passes`, against the graph exactly as PyTorch computes it. */
  async function unchanged(passes: readonly Pass[]) {
    const built = withWeights(f);
    const [plain, folded] = [await logitsOf(f, onnxBytes(built, { passes: [] }).bytes), await logitsOf(f, onnxBytes(built, { passes }).bytes)];
    return { diff: maxAbsDiff(plain, folded), bound: equivalence(plain, f.logits).bound };
  }

  it("foldPreBatchNorm (Next-ViT's merge_bn) also folds VCMamba's pre-norms into the unpadded 1x1 convs after them", async () => {
    expect(count(opsAfter([foldBatchNorm]), 'BatchNorm')).toBe(4); // norm and norm2 of two blocks
    expect(count(opsAfter([foldBatchNorm, foldPreBatchNorm]), 'BatchNorm')).toBe(0);
    const { diff, bound } = await unchanged([foldBatchNorm, foldPreBatchNorm]);
    expect(diff).toBeLessThanOrEqual(bound);
  });

  it('but not before a padded 3x3 conv, where the shift would reach the zero border', () => {
    const b = new GraphBuilder('bn-then-conv');
    const x = b.input('image', [1, 4, 5, 5]);
    b.output(b.conv('conv', b.batchNorm('bn', x), { out: 4, kernel: 3, pad: 1 }), 'logits');
    const graph = b.finish();
    randomizeWeights(graph);
    expect(deployGraph(graph, [foldPreBatchNorm]).nodes.map((n) => n.op)).toEqual(['BatchNorm', 'Conv']);
  });

  it('A = -exp(A_log), its transpose and the direction-bias table become constants', async () => {
    const graph = deployGraph(withWeights(f).graph, [precomputeParameterOps]);
    const params = new Set(graph.params.keys());
    expect([...params].filter((n) => /A_log|direction_Bs/.test(n))).toEqual([]);
    // What is left reads activations: one Exp (the decays) and two Gathers (scan order and back) per block.
    expect(count(graph.nodes.map((n) => n.op), 'Exp')).toBe(2);
    expect(count(graph.nodes.map((n) => n.op), 'Gather')).toBe(4);
    expect(graph.nodes.every((n) => n.op !== 'Transpose' || !params.has(n.inputs[0]))).toBe(true);
    const { diff, bound } = await unchanged([precomputeParameterOps]);
    expect(diff).toBeLessThanOrEqual(bound);
  });

  it("dt_proj's bias, added a second time, folds into dt_proj", async () => {
    const adds = (passes: readonly Pass[]) => count(opsAfter(passes), 'Add');
    expect(adds([]) - adds([foldBiasAdd])).toBe(2);
    const deployed = deployGraph(withWeights(f).graph, [foldBiasAdd]);
    const original = withWeights(f).graph.params.get('network.6.1.mamba.dt_proj.bias')!.data as Float32Array;
    expect(Array.from(deployed.params.get('network.6.1.mamba.dt_proj.bias')!.data as Float32Array)).toEqual(Array.from(original, (v) => Math.fround(2 * v)));
    const { diff, bound } = await unchanged([foldBiasAdd]);
    expect(diff).toBeLessThanOrEqual(bound);
  });

  it('all deployment passes together: the same logits, and a lowered graph without BatchNorm', async () => {
    const { diff, bound } = await unchanged(DEPLOY_PASSES);
    expect(diff).toBeLessThanOrEqual(bound);
    const lowered = lowerToOnnx(deployGraph(withWeights(f).graph));
    expect(lowered.nodes.filter((n) => n.opType === 'BatchNormalization')).toEqual([]);
  });
});
