/**
 * Files eformer writes: atomically (a temp name beside the target, then a rename), into folders
 * checked before any work starts, and never left half-written. Every temp file and work folder is
 * tracked while it exists, so an interrupted run (Ctrl-C, SIGTERM) removes them on its way out
 * (removeTracked, called by the CLI's signal handlers).
 */
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, parse, resolve } from 'node:path';
import { UsageError } from './errors.js';

// ---- temp files and folders that an interruption must not leave behind ----------------------

const tracked = new Set<string>();

export function track(path: string): void {
  tracked.add(path);
}

export function untrack(path: string): void {
  tracked.delete(path);
}

/** Remove every tracked temp file and work folder (best effort: this runs on the way out). */
export function removeTracked(): void {
  for (const path of tracked) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // A path that cannot be removed now cannot be helped on the way out.
    }
  }
  tracked.clear();
}

/** A fresh work folder under the system temp folder, tracked until removeWorkDir. */
export function makeWorkDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  track(dir);
  return dir;
}

export function removeWorkDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  untrack(dir);
}

// ---- output folders and files ----------------------------------------------------------------

/** The first folder on the way up from `dir` that exists, and the names below it still to make. */
function existingAncestor(dir: string): { base: string; missing: string[] } {
  const missing: string[] = [];
  let at = resolve(dir);
  const { root } = parse(at);
  // Bounded by the path's depth: one step up per iteration, ending at the root.
  while (!existsSync(at)) {
    if (at === root) break;
    missing.unshift(basename(at));
    at = dirname(at);
  }
  return { base: at, missing };
}

/** Why `dir` cannot hold new files, or undefined when it can (it or its nearest existing parent is a writable folder). */
function folderProblem(dir: string): string | undefined {
  const { base } = existingAncestor(dir);
  if (!existsSync(base)) return 'no such folder';
  if (!statSync(base).isDirectory()) return 'a path component is a file, not a folder';
  try {
    accessSync(base, constants.W_OK);
  } catch (err) {
    return reason(err);
  }
  return undefined;
}

/**
 * Create `dir` if needed; fail with one clear line when it cannot hold files. Returns the folders
 * it created (outermost first), so a run that fails later can remove what it made.
 */
export function ensureWritableDir(dir: string): string[] {
  const problem = folderProblem(dir);
  if (problem) throw new UsageError(`cannot write to output folder '${dir}': ${problem}`);
  const { base, missing } = existingAncestor(dir);
  const created: string[] = [];
  try {
    let at = base;
    for (const name of missing) {
      at = join(at, name);
      mkdirSync(at);
      created.push(at);
    }
    // The folder accepts a file (a read-only mount can pass the permission check).
    const probe = join(dir, `.eformer-probe-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    removeEmptyDirs(created);
    throw new UsageError(`cannot write to output folder '${dir}': ${reason(err)}`);
  }
  return created;
}

/** Remove folders this run created, innermost first, as long as they are empty. */
export function removeEmptyDirs(created: readonly string[]): void {
  for (const dir of [...created].reverse()) {
    try {
      if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
    } catch {
      return;
    }
  }
}

/** Check, before any work, that `dir` is (or can become) a folder that takes files; nothing is created. */
export function checkOutputDir(dir: string): void {
  const problem = folderProblem(dir);
  if (problem) throw new UsageError(`cannot write to output folder '${dir}': ${problem}`);
}

/**
 * Check, before any work, that `path` can be written: its folder exists (or can be made) and
 * takes files, and the path itself is not a folder. `what` names the flag in the message.
 */
export function checkOutputFile(path: string, what: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`${what} '${path}' is a folder; give a file name`);
  const problem = folderProblem(dirname(resolve(path)));
  if (problem) throw new UsageError(`cannot write ${what} '${path}': ${problem}`);
}

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/** A write to `tmp` failed: remove what was written and say why, in one line. */
function writeFailed(path: string, tmp: string, err: unknown): never {
  safeRemove(tmp);
  throw new UsageError(`cannot write '${path}': ${reason(err)}`);
}

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = tempName(path);
  track(tmp);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    writeFailed(path, tmp, err);
  } finally {
    untrack(tmp);
  }
}

const CHUNK = 16 * 1024 * 1024;

/**
 * writeFileAtomic for large files, in chunks with the event loop free between them: a Ctrl-C
 * during a 326 MB export is handled at once (the temp file removed), not after the whole write.
 */
export async function writeFileAtomicAsync(path: string, data: Uint8Array): Promise<void> {
  const tmp = tempName(path);
  track(tmp);
  try {
    const file = await open(tmp, 'w');
    try {
      for (let at = 0; at < data.length; at += CHUNK) await file.write(data, at, Math.min(CHUNK, data.length - at));
    } finally {
      await file.close();
    }
    renameSync(tmp, path);
  } catch (err) {
    writeFailed(path, tmp, err);
  } finally {
    untrack(tmp);
  }
}

function safeRemove(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Under a path component that is a file, there is nothing to remove.
  }
}

export function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOTDIR') return 'a path component is a file, not a folder';
  if (e.code === 'EEXIST') return 'a file of that name is in the way';
  if (e.code === 'EISDIR') return 'it is a folder';
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'EROFS') return 'read-only file system';
  if (e.code === 'ENOSPC') return 'no space left on device';
  if (e.code === 'ENOENT') return 'no such folder';
  return e.message;
}
