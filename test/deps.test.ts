/**
 * The house rules (.dependency-cruiser.cjs) run over the real tree in `npm test`; here they run
 * over small trees with one deliberate fault each, to prove each rule can fail and names the import.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { root, tempDir } from './helpers.js';

async function cruise(files: Record<string, string>) {
  const dir = tempDir('eformer-deps-');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' }, include: ['src'] }));
  const r = await execa(join(root, 'node_modules/.bin/depcruise'), ['src', '--config', join(root, '.dependency-cruiser.cjs')], { cwd: dir, reject: false });
  return { code: r.exitCode, out: `${r.stdout}\n${r.stderr}` };
}

describe('dependency rules', () => {
  it('the tree as it stands passes', async () => {
    const r = await execa(join(root, 'node_modules/.bin/depcruise'), ['src', 'bench', '--config', '.dependency-cruiser.cjs'], { cwd: root, reject: false });
    expect(r.exitCode, r.stdout).toBe(0);
  });

  it('an upward import fails and is named', async () => {
    const r = await cruise({ 'src/core/stats.ts': "import { profile } from '../profile/profile.js';\nexport const x = profile;\n", 'src/profile/profile.ts': 'export const profile = 1;\n' });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('layer-0-core: src/core/stats.ts → src/profile/profile.ts');
  });

  it('a cycle fails', async () => {
    const r = await cruise({ 'src/graph/a.ts': "import { b } from './b.js';\nexport const a = b;\n", 'src/graph/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n" });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/no-circular: src\/graph\/a\.ts → \s*src\/graph\/b\.ts/);
  });

  it('generic code that names a family fails', async () => {
    const r = await cruise({ 'src/profile/p.ts': "import { v } from '../models/efficientformer/index.js';\nexport const p = v;\n", 'src/models/efficientformer/index.ts': 'export const v = 1;\n' });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('families-are-reached-through-the-registry: src/profile/p.ts → src/models/efficientformer/index.ts');
  });

  it('one backend importing another fails', async () => {
    const r = await cruise({ 'src/backends/coreml/index.ts': "import { v } from '../ort-cpu/index.js';\nexport const c = v;\n", 'src/backends/ort-cpu/index.ts': 'export const v = 1;\n' });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('backends-do-not-import-each-other: src/backends/coreml/index.ts → src/backends/ort-cpu/index.ts');
  });

  it('tflite/ sits beside onnx/ in layer 2: importing onnx/ from it fails, as does importing pipeline/', async () => {
    const r = await cruise({ 'src/tflite/lower.ts': "import { v } from '../onnx/lower.js';\nimport { p } from '../pipeline/index.js';\nexport const t = v + p;\n", 'src/onnx/lower.ts': 'export const v = 1;\n', 'src/pipeline/index.ts': 'export const p = 1;\n' });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('layer-2: src/tflite/lower.ts → src/onnx/lower.ts');
    expect(r.out).toContain('layer-2: src/tflite/lower.ts → src/pipeline/index.ts');
  });

  it('two use cases importing each other fails', async () => {
    const r = await cruise({ 'src/gate/g.ts': "import { v } from '../report/r.js';\nexport const g = v;\n", 'src/report/r.ts': 'export const v = 1;\n' });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('layer-4-use-cases: src/gate/g.ts → src/report/r.ts');
  });
});
