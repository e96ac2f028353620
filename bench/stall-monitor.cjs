// Preloaded into an eformer process by bench/stalls.js (NODE_OPTIONS=--require): a timer that should
// fire every 20 ms records each time the event loop was held longer than that, and at exit writes the
// longest hold and when it began to $EFORMER_STALL_LOG. A signal is handled only when the loop turns,
// so the longest hold bounds how long Ctrl-C can go unanswered.
const { writeFileSync } = require('node:fs');
const started = performance.now();
let last = started;
let longest = { ms: 0, at: 0 };
setInterval(() => {
  const now = performance.now();
  if (now - last > longest.ms) longest = { ms: now - last, at: last - started };
  last = now;
}, 20).unref();
process.on('exit', () => writeFileSync(process.env.EFORMER_STALL_LOG, JSON.stringify({ ...longest, total: performance.now() - started })));
