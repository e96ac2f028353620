// False alarms and detections of the latency gate at its default settings, on this machine.
//   npm run bench:gate [-- --comparisons 100 --rounds 200 --processes]
//   npm run bench:gate -- --cli [--comparisons 20 --runs 40]
// Each comparison measures baseline and current afresh (efficientformerv2_s0 interleaved with
// the reference mobilenetv2_100, as `eformer profile --reference` does) and asks the gate.
// A/A: the same model on both sides. Slow: the current side is made a true ~10% slower (see
// bench/gate-side.js). By default both sides are measured in this process, back to back; with
// --processes each side is measured in a fresh process of its own, as in CI, where baseline and
// current come from different jobs (often different runners, which one machine cannot show).
// --cli runs exactly what a CI user copies, each command a process of its own:
//   eformer profile --model efficientformerv2_s0 --runs 40 --json A.json   (and B.json)
//   eformer gate --baseline A.json --current B.json
// at the defaults (no --reference: profile --json picks one), the slow side with bench/gate-slow.js
// preloaded (the same +10% as gate-side.js's test backend); exit 1 is an alarm, exit 2 a refusal.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_BUDGET, gate } from '../dist/index.js';
import { measureSide, MODEL, openSides, REFERENCE, SLOWDOWN } from './gate-side.js';

const { values: args } = parseArgs({
  options: {
    comparisons: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '200' },
    processes: { type: 'boolean', default: false },
    cli: { type: 'boolean', default: false },
    runs: { type: 'string', default: '40' },
  },
});
if (args.cli) {
  await cliWorkflow(Number(args.comparisons), Number(args.runs));
  process.exit(0);
}
const comparisons = Number(args.comparisons);
const rounds = Number(args.rounds);
const work = mkdtempSync(join(tmpdir(), 'eformer-bench-gate-'));
const sideScript = fileURLToPath(new URL('./gate-side.js', import.meta.url));
const sides = args.processes ? undefined : await openSides();

/** One side's results: measured here, or by a process of its own. */
async function measurement(slow) {
  if (sides) return measureSide(sides, { rounds, slow });
  const out = join(work, 'side.json');
  await execa(process.execPath, [sideScript, '--rounds', String(rounds), '--out', out, ...(slow ? ['--slow'] : [])]);
  return JSON.parse(readFileSync(out, 'utf8'));
}

const options = { config: { defaults: DEFAULT_BUDGET, models: {} }, flags: {} };
const tally = { aa: { alarms: 0, n: 0, changes: [] }, slow: { detections: 0, n: 0, changes: [] } };
const start = performance.now();
for (let i = 0; i < comparisons; i++) {
  for (const kind of ['aa', 'slow']) {
    const base = await measurement(false);
    const cur = await measurement(kind === 'slow');
    const check = gate(base, cur, options).models.find((m) => m.model === MODEL).checks.find((c) => c.metric === 'latency');
    const t = tally[kind];
    t.n++;
    t.changes.push(check.change);
    if (check.outcome === 'regression') kind === 'aa' ? t.alarms++ : t.detections++;
  }
  if ((i + 1) % 10 === 0) console.error(`${i + 1}/${comparisons} pairs: ${tally.aa.alarms} false alarms, ${tally.slow.detections} detections`);
}
const minutes = (performance.now() - start) / 60000;
const spread = (xs) => { const s = [...xs].sort((a, b) => a - b); return `median ${(s[s.length >> 1] * 100).toFixed(1)}%, 2.5-97.5%: ${(s[Math.floor(s.length * 0.025)] * 100).toFixed(1)}% to ${(s[Math.ceil(s.length * 0.975) - 1] * 100).toFixed(1)}%`; };
console.log(`gate defaults: latency limit +${(DEFAULT_BUDGET.latency * 100).toFixed(0)}% and 95% CI above zero, ratio to ${REFERENCE}, ${rounds} interleaved rounds per side, ${args.processes ? 'each side in a process of its own' : 'both sides in this process'}`);
console.log(`A/A:  ${tally.aa.alarms} false alarms in ${tally.aa.n} comparisons (measured change ${spread(tally.aa.changes)})`);
console.log(`slow: ${tally.slow.detections} detections in ${tally.slow.n} comparisons of a true +${SLOWDOWN * 100}% (measured change ${spread(tally.slow.changes)})`);
console.log(`${(minutes).toFixed(1)} minutes for ${4 * comparisons} measurements`);

// One full gate decision from the command line, as CI runs it: profile + gate, wall time.
const dir = work;
const cliArgs = ['bin/eformer.js', 'profile', '-m', MODEL, '--reference', REFERENCE, '--runs', String(rounds), '--no-single-session', '--quiet'];
await execa('node', [...cliArgs, '--json', join(dir, 'base.json')], { cwd: new URL('..', import.meta.url) });
const t0 = performance.now();
const run = await execa('node', [...cliArgs, '--json', join(dir, 'cur.json'), '--baseline', join(dir, 'base.json')], { cwd: new URL('..', import.meta.url), reject: false });
console.log(`one gate decision from the CLI (profile ${MODEL} + reference, then gate): ${((performance.now() - t0) / 1000).toFixed(1)} s, exit ${run.exitCode}`);
rmSync(dir, { recursive: true, force: true });

/**
 * The CI user's workflow, command for command: two `profile --json` processes and `gate` at its
 * defaults. Counts A/A false alarms and +10% detections out of `comparisons` each.
 */
async function cliWorkflow(comparisons, runs) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-gate-cli-'));
  const slowPreload = fileURLToPath(new URL('./gate-slow.js', import.meta.url));
  const profileSide = async (out, slow) => {
    const preload = slow ? ['--import', slowPreload] : [];
    await execa(process.execPath, [...preload, 'bin/eformer.js', 'profile', '--model', MODEL, '--runs', String(runs), '--json', out], { cwd: root });
  };
  const tally = { aa: { alarms: 0, refused: 0, n: 0, changes: [] }, slow: { detections: 0, refused: 0, n: 0, changes: [] } };
  let compared = '';
  const start = performance.now();
  try {
    for (let i = 0; i < comparisons; i++) {
      for (const kind of ['aa', 'slow']) {
        const [a, b, verdict] = ['A.json', 'B.json', 'verdict.json'].map((f) => join(dir, f));
        rmSync(verdict, { force: true });
        await profileSide(a, false);
        await profileSide(b, kind === 'slow');
        // --verdict only writes the decision down (to read the measured change); it changes nothing.
        const run = await execa(process.execPath, ['bin/eformer.js', 'gate', '--baseline', a, '--current', b, '--verdict', verdict], { cwd: root, reject: false });
        const t = tally[kind];
        t.n++;
        if (run.exitCode === 2) {
          t.refused++;
          console.error(`refused: ${run.stderr.trim()}`);
          continue;
        }
        if (run.exitCode !== 0 && run.exitCode !== 1) throw new Error(`gate exited ${run.exitCode}: ${run.stderr}`);
        const v = JSON.parse(readFileSync(verdict, 'utf8'));
        compared = v.latency_compared ?? (v.reference ? `ratio to ${v.reference}` : 'raw medians');
        t.changes.push(v.models.find((m) => m.model === MODEL).checks.find((c) => c.metric === 'latency').change);
        if (run.exitCode === 1) kind === 'aa' ? t.alarms++ : t.detections++;
      }
      console.error(`${i + 1}/${comparisons} pairs: ${tally.aa.alarms} false alarms, ${tally.slow.detections} detections`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const spread = (xs) => {
    if (!xs.length) return 'none compared';
    const s = [...xs].sort((x, y) => x - y);
    return `median ${(s[s.length >> 1] * 100).toFixed(1)}%, 2.5-97.5%: ${(s[Math.floor(s.length * 0.025)] * 100).toFixed(1)}% to ${(s[Math.ceil(s.length * 0.975) - 1] * 100).toFixed(1)}%`;
  };
  console.log(`the CI workflow at its defaults: \`eformer profile --model ${MODEL} --runs ${runs} --json\` twice, each in a process of its own, then \`eformer gate --baseline A.json --current B.json\`; latency compared: ${compared || '-'}`);
  console.log(`A/A:  ${tally.aa.alarms} false alarms in ${tally.aa.n} comparisons${tally.aa.refused ? ` (${tally.aa.refused} refused)` : ''} (measured change ${spread(tally.aa.changes)})`);
  console.log(`slow: ${tally.slow.detections} detections in ${tally.slow.n} comparisons of a true +${SLOWDOWN * 100}%${tally.slow.refused ? ` (${tally.slow.refused} refused)` : ''} (measured change ${spread(tally.slow.changes)})`);
  console.log(`${((performance.now() - start) / 60000).toFixed(1)} minutes for ${4 * comparisons} profile runs`);
}
