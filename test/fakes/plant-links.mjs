// Preloaded into the CLI under test (node --import): before eformer runs, plant a symbolic link
// at every name eformer's old temp-file scheme would have used in this process (its pid is only
// known here), each pointing at one victim file. EFORMER_TEST_PLANT is JSON:
// { "victim": path, "dirs": [folders], "names": ["r.html", ...] }.
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const { victim, dirs, names } = JSON.parse(process.env.EFORMER_TEST_PLANT);
const pid = process.pid;
// Worker threads (ort-cpu's timing sessions) run preloads too: plant once, from the main thread.
for (const dir of isMainThread ? dirs : []) {
  symlinkSync(victim, join(dir, `.eformer-probe-${pid}`));
  for (const name of names) {
    symlinkSync(victim, join(dir, `.${name}.${pid}.tmp`));
    // The Core ML bridge's package: .NAME.mlpackage.<pid>.tmp.mlpackage
    if (name.endsWith('.mlpackage')) symlinkSync(victim, join(dir, `.${name}.${pid}.tmp.mlpackage`));
  }
}
