/**
 * Files eformer reads and writes.
 *
 * Inputs (readInputFile): only a regular file is read (a FIFO, a device or a folder is refused
 * before a byte is read), and only up to a bound for its kind, taken from fstat of the opened file.
 *
 * Outputs, one rule: checkOutputs looks at every output of a command before any work (what it
 * names exists as a regular file or not at all, its folder exists or can be made and takes files,
 * its name fits, and it is none of the command's inputs nor another of its outputs), and what
 * the check accepts the write creates: missing folders are made at write time, and a run that
 * fails or is interrupted removes again the folders it made while they are empty.
 *
 * Every file is written under a temp name beside its target, created exclusively (O_CREAT |
 * O_EXCL | O_NOFOLLOW) under a name no one can guess (crypto random), then renamed over the
 * target: a symlink planted at either name is never written through (the rename replaces a link
 * at the target, not what it points to). Files inside a work folder (makeWorkDir: mkdtemp, mode
 * 0700, ours alone) are written plainly.
 *
 * Every temp file and work folder is tracked from the same synchronous step that creates it.
 * Signal handlers run only between JavaScript tasks, so an interruption (Ctrl-C, SIGTERM; the
 * CLI calls removeTracked) always finds everything that exists, and nothing is created after it.
 */
import { randomBytes } from 'node:crypto';
import {
  type BigIntStats,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  unlinkSync,
  write,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, parse, resolve } from 'node:path';
import { UsageError } from './errors.js';

// ---- temp files and folders that an interruption must not leave behind ----------------------

const tracked = new Set<string>();
/** Folders this process made for its outputs, in the order made (outermost first). */
const madeFolders: string[] = [];

export function track(path: string): void {
  tracked.add(path);
}

export function untrack(path: string): void {
  tracked.delete(path);
}

/**
 * Remove every tracked temp file and work folder, then the output folders this run made that
 * are still empty (best effort: this runs on the way out, after an interruption or a failure).
 */
export function removeTracked(): void {
  for (const path of tracked) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // A path that cannot be removed now cannot be helped on the way out.
    }
  }
  tracked.clear();
  removeEmptyDirs(madeFolders.splice(0));
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

/**
 * A fresh folder beside `path` (mkdtemp: an unguessable name, created exclusively, mode 0700),
 * tracked until removeWorkDir: where a tool writes an output that is then renamed to `path`.
 */
export function makeTempDirBeside(path: string): string {
  const dir = mkdtempSync(join(dirname(path), `.${shortName(path)}.`));
  track(dir);
  return dir;
}

// ---- reading inputs ---------------------------------------------------------------------------

const MiB = 1024 * 1024;

export interface InputLimit {
  bytes: number;
  /** What the limit is for, in the message ("a JSON input"). */
  kind: string;
}

/**
 * How much eformer reads of each kind of input file. A file above its bound is refused before it
 * is read: far above anything real, and far below what would exhaust memory.
 */
export const INPUT_LIMITS = {
  /** Results, latency tables, search results, model and Hugging Face configs, budgets, search spaces (a results file of 27 models with their samples is well under 1 MB). */
  json: { bytes: 64 * MiB, kind: 'a JSON input' },
  /** PyTorch and safetensors checkpoints (the largest zoo model's, efficientformer_l7, is 0.33 GB). */
  checkpoint: { bytes: 2048 * MiB, kind: 'a checkpoint' },
  /** ONNX files (protobuf cannot hold more than 2 GB; larger models keep their weights outside). */
  onnx: { bytes: 2048 * MiB, kind: 'an ONNX file' },
  /** JPEG and PNG images (a 100-megapixel JPEG, the decoder's own limit, is about 50 MB). */
  image: { bytes: 256 * MiB, kind: 'an image' },
} as const satisfies Record<string, InputLimit>;

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;

/** What a non-regular file is, for the message. */
function kindOfFile(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of the input file `path`, which `what` names in messages (a flag and what it holds,
 * e.g. "--ckpt checkpoint"). Refused with one line (exit 2): a missing or unreadable file, what
 * is not a regular file once links are followed (a FIFO is opened without blocking and refused),
 * and a file above `limit`, whose size comes from fstat of the opened file (no race with a stat).
 */
export function readInputFile(path: string, what: string, limit: InputLimit): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new UsageError(`cannot read ${what} '${path}': ${readReason(err)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${what} '${path}' is ${kindOfFile(st)}, not a regular file`);
    if (st.size > limit.bytes) throw new UsageError(`${what} '${path}' is ${megabytes(st.size)}, more than eformer reads for ${limit.kind} (${megabytes(limit.bytes)})`);
    // Its own ArrayBuffer (never a slice of Node's pool): readers may view .buffer from offset 0.
    const bytes = Buffer.allocUnsafeSlow(st.size);
    let at = 0;
    // A file that shrinks while it is read ends early; one that grows is read to its size at open.
    while (at < st.size) {
      const n = readSync(fd, bytes, at, Math.min(st.size - at, 256 * MiB), at);
      if (n === 0) break;
      at += n;
    }
    return at === st.size ? bytes : bytes.subarray(0, at);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${what} '${path}': ${readReason(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** readInputFile as UTF-8 text. */
export function readInputText(path: string, what: string, limit: InputLimit = INPUT_LIMITS.json): string {
  return readInputFile(path, what, limit).toString('utf8');
}

function readReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'ELOOP') return 'a loop of symbolic links';
  if (code === 'EISDIR') return 'it is a folder';
  return reason(err);
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

/** The longest file name most file systems take (bytes). */
const NAME_MAX = 255;
/** A temp name holds at most this many characters of its target's name, so it fits where the target does. */
const TEMP_NAME_CHARS = 40;

const shortName = (path: string) => basename(path).slice(0, TEMP_NAME_CHARS);

/** Why `dir` cannot hold new files, or undefined when it can (it or its nearest existing parent is a writable folder). */
function folderProblem(dir: string): string | undefined {
  const { base, missing } = existingAncestor(dir);
  if (!existsSync(base)) return 'no such folder';
  const taken = missing.find((name) => lstatOrUndefined(join(base, name)));
  if (taken) return `'${join(base, taken)}' is a broken symbolic link`;
  if (!statSync(base).isDirectory()) return 'a path component is a file, not a folder';
  const long = missing.find((name) => Buffer.byteLength(name) > NAME_MAX);
  if (long) return `the folder name '${long.slice(0, 40)}...' is longer than ${NAME_MAX} bytes`;
  // A probe file shows the folder takes files (a read-only mount or a full quota can pass a permission check).
  try {
    closeSync(createExclusive(base, '.eformer-probe').fd);
  } catch (err) {
    return reason(err);
  }
  return undefined;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * A new file in `dir` named `prefix` and a random suffix, created with O_CREAT | O_EXCL |
 * O_NOFOLLOW (never an existing file, never through a link), open for writing, and tracked in
 * the same step; the probe form (no track) is removed before it returns.
 */
function createExclusive(dir: string, prefix: string, keep = false): { path: string; fd: number } {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  // Three tries: a clash of 96 random bits is a planted file, not chance.
  for (let attempt = 0; ; attempt++) {
    const path = join(dir, `${prefix}.${randomBytes(12).toString('hex')}.tmp`);
    try {
      const fd = openSync(path, flags, 0o666);
      if (keep) track(path);
      else unlinkSync(path);
      return { path, fd };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === 2) throw err;
    }
  }
}

/** Make the missing folders on the way to `dir`, recording them so a failed run removes them again. */
function makeFolders(dir: string): string[] {
  const { base, missing } = existingAncestor(dir);
  const made: string[] = [];
  let at = base;
  for (const name of missing) {
    at = join(at, name);
    try {
      mkdirSync(at);
    } catch (err) {
      // Made meanwhile by someone else: theirs, not ours to remove.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(at).isDirectory()) continue;
      removeEmptyDirs(made);
      throw err;
    }
    made.push(at);
    madeFolders.push(at);
  }
  return made;
}

/**
 * Create `dir` if needed; fail with one clear line when it cannot hold files. Returns the folders
 * it created (outermost first), so a run that fails later can remove what it made (removeTracked
 * removes them too when they are still empty).
 */
export function ensureWritableDir(dir: string): string[] {
  const problem = folderProblem(dir);
  if (problem) throw new UsageError(`cannot write to output folder '${dir}': ${problem}`);
  const created: string[] = [];
  try {
    created.push(...makeFolders(dir));
    closeSync(createExclusive(dir, '.eformer-probe').fd);
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
      // Gone already (removed after a failed write), or not ours to read: the next one may still be.
    }
  }
}

/** Check, before any work, that `dir` is (or can become) a folder that takes files; nothing is created. */
export function checkOutputDir(dir: string, what = 'output folder'): void {
  const problem = existsSync(dir) && !statSync(dir).isDirectory() ? 'a path component is a file, not a folder' : folderProblem(dir);
  if (problem) throw new UsageError(`cannot write to ${what} '${dir}': ${problem}`);
}

/**
 * Check, before any work, that `path` can be written: it is a regular file or not there, its
 * name fits, and its folder exists (or can be made) and takes files. `what` names the flag.
 */
export function checkOutputFile(path: string, what: string, problemOf: (dir: string) => string | undefined = folderProblem): void {
  const st = statOrUndefined(path);
  if (st?.isDirectory()) throw new UsageError(`${what} '${path}' is a folder; give a file name`);
  if (st && !st.isFile()) throw new UsageError(`${what} '${path}' is ${kindOfFile(st)}; eformer writes its outputs as regular files (replaced by rename)`);
  if (Buffer.byteLength(basename(path)) > NAME_MAX) throw new UsageError(`cannot write ${what} '${path}': the file name is longer than ${NAME_MAX} bytes`);
  const problem = problemOf(dirname(resolve(path)));
  if (problem) throw new UsageError(`cannot write ${what} '${path}': ${problem}`);
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** An output of a command: a file (replaced by rename), a file appended to, or a folder files are written into. */
export interface OutputPath {
  path: string;
  /** The flag that names it, for messages ("--json"). */
  flag: string;
  kind?: 'file' | 'append' | 'folder';
}

/** An input file of a command, named by `flag` ("--baseline", "results file"). */
export interface InputPath {
  path: string;
  flag: string;
}

/**
 * Check every output of a command before any work (checkOutputFile / checkOutputDir), and that
 * no output is also an input or another output: the same file by its real path (symlinks
 * resolved) or, when it exists, by device and inode (hard links too). One line naming both flags.
 */
export function checkOutputs(outputs: readonly (OutputPath | undefined)[], inputs: readonly (InputPath | undefined)[] = []): void {
  const outs = outputs.filter((o): o is OutputPath => o !== undefined);
  const ins = inputs.filter((i): i is InputPath => i !== undefined);
  // One look at each folder, however many files go into it (search writes up to --top of them).
  const problems = new Map<string, string | undefined>();
  const problemOf = (dir: string) => (problems.has(dir) ? problems.get(dir) : problems.set(dir, folderProblem(dir)).get(dir));
  for (const o of outs) {
    if (o.kind === 'folder') checkOutputDir(o.path);
    else checkOutputFile(o.path, o.flag, problemOf);
  }
  const files = outs.filter((o) => o.kind !== 'folder').map((o) => ({ ...o, id: fileIdentity(o.path) }));
  const inputIds = ins.map((i) => ({ ...i, id: fileIdentity(i.path) }));
  files.forEach((o, n) => {
    const input = inputIds.find((i) => i.id === o.id);
    if (input) throw new UsageError(`${o.flag} '${o.path}' is the same file as ${input.flag} '${input.path}': eformer does not overwrite what it reads; write it elsewhere`);
    const other = files.slice(0, n).find((p) => p.id === o.id);
    if (other) throw new UsageError(`${other.flag} '${other.path}' and ${o.flag} '${o.path}' are the same file: give each output its own`);
  });
}

/**
 * What makes two paths the same file: device and inode when it exists (symlinks followed, hard
 * links equal), else the real path of its nearest existing folder and the names below it.
 */
function fileIdentity(path: string): string {
  try {
    const st: BigIntStats = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    const { base, missing } = existingAncestor(path);
    let real = base;
    try {
      real = realpathSync(base);
    } catch {
      // An unreadable parent: compare by the path as given.
    }
    return join(real, ...missing);
  }
}

/** Whether `a` and `b` name the same file (symlinks followed, hard links equal). */
export function sameFile(a: string, b: string): boolean {
  return fileIdentity(a) === fileIdentity(b);
}

/** A write to `temp` failed: remove it and the folders made for it, and say why in one line. */
function writeFailed(path: string, temp: string | undefined, made: readonly string[], err: unknown): never {
  if (temp) safeRemove(temp);
  removeEmptyDirs(made);
  throw new UsageError(`cannot write '${path}': ${reason(err)}`);
}

/** Make `path`'s missing folders, then create its temp file beside it (exclusively, tracked). */
function startWrite(path: string): { temp: string; fd: number; made: string[] } {
  let made: string[] = [];
  try {
    made = makeFolders(dirname(resolve(path)));
    const { path: temp, fd } = createExclusive(dirname(path), `.${shortName(path)}`, true);
    return { temp, fd, made };
  } catch (err) {
    writeFailed(path, undefined, made, err);
  }
}

/** Close the temp file and rename it over `path` (replacing a file or a link there, never writing through one). */
function finishWrite(path: string, temp: string, fd: number): void {
  closeSync(fd);
  renameSync(temp, path);
}

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const { temp, fd, made } = startWrite(path);
  try {
    writeFileSync(fd, data);
    finishWrite(path, temp, fd);
  } catch (err) {
    safeClose(fd);
    writeFailed(path, temp, made, err);
  } finally {
    untrack(temp);
  }
}

const CHUNK = 16 * 1024 * 1024;

const writeChunk = (fd: number, data: Uint8Array, at: number, length: number) =>
  new Promise<number>((done, fail) => write(fd, data, at, length, null, (err, n) => (err ? fail(err) : done(n))));

/**
 * writeFileAtomic for large files, in chunks with the event loop free between them: a Ctrl-C
 * during a 326 MB export is handled at once (the temp file removed), not after the whole write.
 * The temp file is created synchronously, before the first await, so it is tracked whenever a
 * signal handler can run.
 */
export async function writeFileAtomicAsync(path: string, data: Uint8Array): Promise<void> {
  const { temp, fd, made } = startWrite(path);
  try {
    for (let at = 0; at < data.length; ) at += await writeChunk(fd, data, at, Math.min(CHUNK, data.length - at));
    finishWrite(path, temp, fd);
  } catch (err) {
    safeClose(fd);
    writeFailed(path, temp, made, err);
  } finally {
    untrack(temp);
  }
}

/** Append `text` to `path` (the CI step summary), making its missing folders as the check promised. */
export function appendToFile(path: string, text: string, what: string): void {
  let made: string[] = [];
  try {
    made = makeFolders(dirname(resolve(path)));
    writeFileSync(path, text, { flag: 'a' });
  } catch (err) {
    removeEmptyDirs(made);
    throw new UsageError(`cannot append to ${what} '${path}': ${reason(err)}`);
  }
}

function safeClose(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed by finishWrite.
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
  if (e.code === 'EDQUOT') return 'disk quota exceeded';
  if (e.code === 'ENAMETOOLONG') return 'the name is too long';
  if (e.code === 'ENOENT') return 'no such folder';
  return e.message;
}
