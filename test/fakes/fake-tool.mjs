#!/usr/bin/env node
// A stand-in for adb, xcrun, xcodebuild (and a compiled harness) in tests. It replays a
// transcript from fixtures/transcripts/: each call the driver makes must match the next
// expected call's tool and arguments, or the fake fails loudly (exit 99) and names the
// mismatch. Responses give stdout/stderr, an exit code, a delay, and files to write where
// an argument says (an xcresult export, a compiled model, a harness binary).
//
// Usage: fake-tool.mjs TOOL ARGS...   (the bin/ links call it with their own name)
// Environment: EFORMER_FAKE_TRANSCRIPT (the JSON), EFORMER_FAKE_STATE (a folder for the call
// counter and the log of calls).
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [tool, ...args] = process.argv.slice(2);
const transcript = JSON.parse(readFileSync(process.env.EFORMER_FAKE_TRANSCRIPT, 'utf8'));
const state = process.env.EFORMER_FAKE_STATE;
const counterFile = join(state, 'next');
const index = existsSync(counterFile) ? Number(readFileSync(counterFile, 'utf8')) : 0;
appendFileSync(join(state, 'calls.log'), `${JSON.stringify([tool, ...args])}\n`);

function fail(message) {
  appendFileSync(join(state, 'mismatch.log'), `${message}\n`);
  process.stderr.write(`fake ${tool}: ${message}\n`);
  process.exit(99);
}

const expected = transcript.calls[index];
if (!expected) fail(`unexpected call #${index + 1}: ${tool} ${args.join(' ')} (the transcript has ${transcript.calls.length})`);
writeFileSync(counterFile, String(index + 1));

// An expected argument is a literal, "*" (anything), or "re:<regex>" matched against the whole argument.
const matches = (pattern, value) => pattern === '*' || (pattern.startsWith('re:') ? new RegExp(`^(?:${pattern.slice(3)})$`).test(value) : pattern === value);
if (expected.tool !== tool) fail(`call #${index + 1}: expected ${expected.tool}, got ${tool} ${args.join(' ')}`);
if (expected.args.length !== args.length || !expected.args.every((p, i) => matches(p, args[i]))) {
  fail(`call #${index + 1}: expected ${tool} ${expected.args.join(' ')}\n  got ${tool} ${args.join(' ')}`);
}

// `cwd` (a literal or "re:" pattern) is where the driver must run the tool.
if (expected.cwd && !matches(expected.cwd, process.cwd())) fail(`call #${index + 1}: ran in ${process.cwd()}, expected ${expected.cwd}`);

// `expectFiles` are paths the driver must have prepared before the call, relative to the working
// folder or, with `base`, to the folder of the file named after that argument: a folder (`dir`),
// or a JSON file whose listed keys must match (`json`).
for (const f of expected.expectFiles ?? []) {
  const at = f.base ? args.findIndex((a) => matches(f.base, a)) : -1;
  if (f.base && (at < 0 || at + 1 >= args.length)) fail(`call #${index + 1}: no value after ${f.base}`);
  const path = join(f.base ? dirname(args[at + 1]) : process.cwd(), f.path);
  if (!existsSync(path)) fail(`call #${index + 1}: ${f.path} is missing in ${process.cwd()}`);
  if (f.dir && !statSync(path).isDirectory()) fail(`call #${index + 1}: ${f.path} is not a folder`);
  if (f.json) {
    const got = JSON.parse(readFileSync(path, 'utf8'));
    for (const [key, value] of Object.entries(f.json)) {
      if (JSON.stringify(got?.[key]) !== JSON.stringify(value)) fail(`call #${index + 1}: ${f.path} has ${key}=${JSON.stringify(got?.[key])}, expected ${JSON.stringify(value)}`);
    }
  }
}

// `expect` checks a JSON file the driver wrote (e.g. the harness config): every listed key must match.
for (const e of expected.expect ?? []) {
  const at = args.findIndex((a) => matches(e.after, a));
  const got = at >= 0 && at + 1 < args.length ? JSON.parse(readFileSync(args[at + 1], 'utf8')) : undefined;
  for (const [key, value] of Object.entries(e.json)) {
    if (JSON.stringify(got?.[key]) !== JSON.stringify(value)) fail(`call #${index + 1}: ${e.after} file has ${key}=${JSON.stringify(got?.[key])}, expected ${JSON.stringify(value)}`);
  }
}

const fake = fileURLToPath(import.meta.url);
const fill = (text) => text.replaceAll('{fake}', fake).replaceAll('{node}', process.execPath);
for (const f of expected.files ?? []) {
  // `after` names the argument (literal or pattern) whose next argument is the target path.
  const at = args.findIndex((a) => matches(f.after, a));
  if (at < 0 || at + 1 >= args.length) fail(`call #${index + 1}: no value after ${f.after} to write ${f.name ?? 'a file'} into`);
  const target = f.name ? join(args[at + 1], f.name) : args[at + 1];
  if (f.dir) mkdirSync(target, { recursive: true });
  else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, fill(f.content ?? ''));
    if (f.mode) chmodSync(target, Number.parseInt(f.mode, 8));
  }
}

const out = (text) => text && process.stdout.write(fill(text));
const finish = () => {
  out(expected.stdout ?? '');
  if (expected.stderr) process.stderr.write(expected.stderr);
  process.exit(expected.exit ?? 0);
};
if (expected.delay_ms) {
  // Print what came before the hang, then hang (the driver's --timeout must stop us).
  out(expected.stdout_before_delay ?? '');
  setTimeout(finish, expected.delay_ms);
} else finish();
