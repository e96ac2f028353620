// Preloaded into the real CLI, `node --import ./bench/gate-slow.js bin/eformer.js profile ...`, to make
// efficientformerv2_s0 a true SLOWDOWN (10%) slower on ort-cpu in the same way bench/gate-side.js's test
// backend does (spinning for 10% of each run's own time after it), while every other model, the reference
// included, and everything else the command does stay as they are. The CLI loads the same dist/ modules,
// so the backend patched here is the one it measures with.
import { findBackend } from '../dist/index.js';
import { MODEL, slowed } from './gate-side.js';

const backend = findBackend('ort-cpu');
const open = backend.open.bind(backend);
backend.open = async (source, options) => {
  const session = await open(source, options);
  if (source.name !== MODEL) return session;
  const inner = { run: session.run.bind(session) };
  session.run = slowed(inner);
  return session;
};
