/**
 * Just enough ZIP to read PyTorch checkpoints: the central directory (with ZIP64), and
 * stored (uncompressed) entries returned as views into the file buffer, never copies.
 * torch.save writes every entry stored and 64-byte aligned. Every offset is bounds-checked,
 * so a truncated or hostile archive ends in a CheckpointError, never a crash or a huge read.
 */
import { CheckpointError } from './errors.js';

export interface ZipEntry {
  name: string;
  /** Where the entry's bytes start in the archive. */
  dataOffset: number;
  size: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_U32 = 0xffffffff;

class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  check(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw new CheckpointError(`corrupted zip: ${what} points outside the file (truncated?)`);
    }
  }
  u16(o: number): number {
    this.check(o, 2, 'a field');
    return this.view.getUint16(o, true);
  }
  u32(o: number): number {
    this.check(o, 4, 'a field');
    return this.view.getUint32(o, true);
  }
  u64(o: number): number {
    this.check(o, 8, 'a field');
    const v = this.view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CheckpointError('corrupted zip: a 64-bit size is out of range');
    return Number(v);
  }
  text(o: number, n: number): string {
    this.check(o, n, 'a file name');
    return new TextDecoder().decode(this.bytes.subarray(o, o + n));
  }
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

function findEndOfCentralDirectory(r: Reader): number {
  const n = r.bytes.length;
  const stop = Math.max(0, n - 22 - 0xffff);
  for (let o = n - 22; o >= stop; o--) {
    if (r.bytes[o] === 0x50 && r.bytes[o + 1] === 0x4b && r.u32(o) === EOCD) return o;
  }
  throw new CheckpointError('corrupted zip: no end-of-central-directory record (truncated file?)');
}

/** The entries of a ZIP archive, by name. */
export function readZip(bytes: Uint8Array): Map<string, ZipEntry> {
  const r = new Reader(bytes);
  const eocd = findEndOfCentralDirectory(r);
  let count = r.u16(eocd + 10);
  let cdSize = r.u32(eocd + 12);
  let cdOffset = r.u32(eocd + 16);
  if (count === 0xffff || cdSize === MAX_U32 || cdOffset === MAX_U32) {
    const locator = eocd - 20;
    if (locator < 0 || r.u32(locator) !== ZIP64_LOCATOR) throw new CheckpointError('corrupted zip: ZIP64 locator missing');
    const record = r.u64(locator + 8);
    if (r.u32(record) !== ZIP64_EOCD) throw new CheckpointError('corrupted zip: ZIP64 end record missing');
    count = r.u64(record + 32);
    cdSize = r.u64(record + 40);
    cdOffset = r.u64(record + 48);
  }
  r.check(cdOffset, cdSize, 'the central directory');
  // Each central record is at least 46 bytes: a lying count cannot make us loop for long.
  if (count > cdSize / 46) throw new CheckpointError('corrupted zip: more entries claimed than the directory can hold');

  const entries = new Map<string, ZipEntry>();
  let o = cdOffset;
  for (let i = 0; i < count; i++) {
    if (r.u32(o) !== CENTRAL) throw new CheckpointError('corrupted zip: bad central directory record');
    const method = r.u16(o + 10);
    let compressed = r.u32(o + 20);
    let size = r.u32(o + 24);
    const nameLength = r.u16(o + 28);
    const extraLength = r.u16(o + 30);
    const commentLength = r.u16(o + 32);
    let localOffset = r.u32(o + 42);
    const name = r.text(o + 46, nameLength);
    // ZIP64 extra field: 8-byte values for whichever 32-bit fields are saturated, in this order.
    let e = o + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = r.u16(e);
      const length = r.u16(e + 2);
      if (id === 0x0001) {
        let p = e + 4;
        if (size === MAX_U32) (size = r.u64(p)), (p += 8);
        if (compressed === MAX_U32) (compressed = r.u64(p)), (p += 8);
        if (localOffset === MAX_U32) localOffset = r.u64(p);
      }
      e += 4 + length;
    }
    if (method !== 0) throw new CheckpointError(`zip entry '${name}' is compressed (method ${method}); PyTorch checkpoints store entries uncompressed`);
    if (compressed !== size) throw new CheckpointError(`corrupted zip: entry '${name}' sizes disagree`);
    if (r.u32(localOffset) !== LOCAL) throw new CheckpointError(`corrupted zip: entry '${name}' has no local header`);
    const dataOffset = localOffset + 30 + r.u16(localOffset + 26) + r.u16(localOffset + 28);
    r.check(dataOffset, size, `entry '${name}'`);
    entries.set(name, { name, dataOffset, size });
    o += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
