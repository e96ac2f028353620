import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imagenetClasses } from '../src/data/imagenet.js';
import { efficientFormer } from '../src/models/index.js';
import { softmax, topK } from '../src/predict/index.js';
import { decodeImage } from '../src/images/decode.js';
import { preprocess, resizedSize } from '../src/images/preprocess.js';
import { cli, maxAbsDiff, root, tempDir } from './helpers.js';

const images = join(root, 'fixtures/images');
const reference = (name: string) => {
  const raw = readFileSync(join(images, `${name}.pixel_values.f32`));
  return new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
};

describe("preprocessing equals Hugging Face's EfficientFormerImageProcessor", () => {
  // Reference values: scripts/make_fixtures.py ran the processor (shortest_edge 256, bicubic,
  // center crop 224, rescale, ImageNet normalisation) on these files.
  it.each(['gradient.png', 'gradient.jpg'])('%s, to the last bit', async (name) => {
    const ours = preprocess(await decodeImage(join(images, name)), efficientFormer.preprocessing);
    expect(ours.length).toBe(3 * 224 * 224);
    expect(maxAbsDiff(ours, reference(name))).toBe(0);
  });

  it('resizes the short side to 256 and truncates the long side, as HF does', () => {
    expect(resizedSize(320, 240, 256)).toEqual([341, 256]);
    expect(resizedSize(240, 320, 256)).toEqual([256, 341]);
    expect(resizedSize(500, 500, 256)).toEqual([256, 256]);
  });
});

describe('classification output', () => {
  it('ships the 1000 ImageNet-1k class names in index order', () => {
    const names = imagenetClasses();
    expect(names).toHaveLength(1000);
    expect(new Set(names).size).toBe(1000);
    expect(names[0]).toBe('tench');
    expect(names[999]).toBe('toilet tissue');
  });

  it('softmax and top-k', () => {
    const p = softmax(Float32Array.of(1, 3, 2, 0));
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(topK(p, 2, ['a', 'b', 'c', 'd']).map((c) => c.label)).toEqual(['b', 'c']);
  });

  it('eformer predict --json equals Hugging Face (processor + model) on the fixture images: classes, labels, probabilities', async () => {
    const ckpt = join(root, 'fixtures/checkpoints/v1_tiny_hf');
    const reference = JSON.parse(readFileSync(join(images, 'predict-reference.json'), 'utf8')).images;
    const names = ['gradient.png', 'gradient.jpg'];
    const r = await cli('predict', '--hf-config', join(ckpt, 'config.json'), '--ckpt', join(ckpt, 'model.safetensors'), ...names.map((n) => join(images, n)), '--json');
    expect(r.code, r.stderr).toBe(0);
    const predictions = JSON.parse(r.stdout);
    names.forEach((name, i) => {
      const want = reference[name] as { index: number; label: string; probability: number }[];
      const got = predictions[i].top as typeof want;
      expect(got.map((c) => c.index)).toEqual(want.map((c) => c.index));
      // The config's id2label names the classes.
      expect(got.map((c) => c.label)).toEqual(want.map((c) => c.label));
      got.forEach((c, k) => expect(Math.abs(c.probability - want[k].probability)).toBeLessThan(1e-6));
    });
  });
});

describe('predict bad input: one line, exit 2', () => {
  const ckpt = join(root, 'fixtures/checkpoints/v1_tiny_hf');
  const base = ['predict', '--hf-config', join(ckpt, 'config.json'), '--ckpt', join(ckpt, 'model.safetensors')];

  it('a file that is not an image', async () => {
    const bogus = join(tempDir(), 'photo.jpg');
    writeFileSync(bogus, 'not a jpeg at all');
    const r = await cli(...base, bogus);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/photo\.jpg is not an image eformer can read/);
  });

  it('a missing image', async () => {
    const r = await cli(...base, '/nonexistent.png');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read image '\/nonexistent.png'/);
  });

  it('no checkpoint', async () => {
    const r = await cli('predict', '-m', 'efficientformer_l1', join(images, 'gradient.png'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/add --ckpt/);
  });
});
