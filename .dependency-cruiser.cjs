/**
 * eformer's house rules, checked by dependency-cruiser in `npm test` (npm run lint:deps).
 * Layers, top to bottom; a module may import its own folder and any LOWER layer, nothing else:
 *   5  cli/, index.ts                       the shell and the public face
 *   4b latency/                             latency tables, prediction and search, built on profiling
 *   4  profile/ gate/ report/ export/ predict/ setup/   use cases
 *   3  pipeline/ backends/ int8/            the build pipeline, the latency backends, int8 quantisation
 *   2  models/ weights/ onnx/ tflite/ coreml/   families, checkpoint readers, ONNX, TFLite, the Core ML bridge
 *   1  graph/ devices/ results/ images/     IR, device plumbing, the results contract, pixels
 *   0  core/ data/                          errors, fs, stats, text; ImageNet data
 */
const L5 = 'cli';
const L4B = 'latency';
const L4 = 'profile|gate|report|export|predict|setup';
const L3 = 'pipeline|backends|int8';
const L2 = 'models|weights|onnx|tflite|coreml';
const L1 = 'graph|devices|results|images';
const L0 = 'core|data';

/** Modules in `layer` may not import another folder of their own layer or any layer above. */
function layerRule(name, layer, above) {
  return {
    name,
    comment: `${layer.replace(/\|/g, ', ')} may import only their own folder and lower layers`,
    severity: 'error',
    from: { path: `^src/(${layer})/` },
    to: { path: `^src/(${[layer, ...above].join('|')})/`, pathNot: '^src/$1/' },
  };
}

/** Sibling folders under `parent` (one family, one backend each) do not import each other. */
function foldersApart(name, parent, comment) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: `^src/${parent}/([^/]+)/` },
    to: { path: `^src/${parent}/[^/]+/`, pathNot: `^src/${parent}/$1/` },
  };
}

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'import cycles make layers meaningless', from: {}, to: { circular: true } },
    layerRule('layer-0-core', L0, [L1, L2, L3, L4, L4B, L5]),
    layerRule('layer-1', L1, [L2, L3, L4, L4B, L5]),
    layerRule('layer-2', L2, [L3, L4, L4B, L5]),
    layerRule('layer-3', L3, [L4, L4B, L5]),
    layerRule('layer-4-use-cases', L4, [L4B, L5]),
    layerRule('layer-4b-latency', L4B, [L5]),
    {
      name: 'public-face-is-not-imported-inside',
      comment: 'src/index.ts re-exports the library; nothing inside src imports it',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'families-are-reached-through-the-registry',
      comment: 'generic code names no family: it goes through models/index.ts and models/family.ts',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/models/' },
      to: { path: '^src/models/[^/]+/' },
    },
    foldersApart('families-do-not-import-each-other', 'models', 'a family is one folder; what two families share lives in models/layers.ts or models/renames.ts'),
    foldersApart('backends-do-not-import-each-other', 'backends', 'a backend is one folder; shared device plumbing lives in devices/'),
    {
      name: 'benches-use-the-public-face',
      comment: 'benchmarks import only the library entry (dist/index.js)',
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^(dist|src)/', pathNot: '^(dist/index\\.js|src/index\\.ts)$' },
    },
    {
      name: 'imports-resolve',
      comment: 'an import that resolves to nothing is a stale path (dist/ must be built first)',
      severity: 'error',
      from: { path: '^(src|bench)/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'no-tests-in-src',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    // dist/ is what the benches import: seen as leaves, not followed.
    doNotFollow: { path: ['node_modules', '^dist/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
