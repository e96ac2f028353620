/**
 * Just enough of torch.save's format to write hostile checkpoints in a test: pickle opcodes by
 * hand (the ones torch's protocol-2 state dicts use, plus the containers and memo ops an attacker
 * has) and a stored zip. Nothing here needs torch or Python; eformer's reader does not check CRCs,
 * so they are left zero.
 */

/** A pickle program, written opcode by opcode. */
export class Pickle {
  private readonly out: number[] = [0x80, 2]; // PROTO 2, as torch.save writes

  private op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }

  private le(value: number, size: number): number[] {
    return Array.from({ length: size }, (_, i) => Number((BigInt(value) >> BigInt(8 * i)) & 0xffn));
  }

  mark = () => this.op(0x28);
  emptyDict = () => this.op(0x7d);
  emptyList = () => this.op(0x5d);
  tuple = () => this.op(0x74);
  setItems = () => this.op(0x75);
  append = () => this.op(0x61);
  appends = () => this.op(0x65);
  reduce = () => this.op(0x52);
  persistentId = () => this.op(0x51);
  newFalse = () => this.op(0x89);
  stop = () => this.op(0x2e);
  /** BINPUT / BINGET: the memo, which lets a pickle place one object in many places (or in itself). */
  put = (slot: number) => this.op(0x71, slot);
  get = (slot: number) => this.op(0x68, slot);

  str(s: string): this {
    const bytes = [...new TextEncoder().encode(s)];
    return this.op(0x58, ...this.le(bytes.length, 4), ...bytes); // BINUNICODE
  }

  /** BININT for 32-bit values, LONG1 beyond. */
  int(n: number): this {
    if (Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a, ...this.le(n >>> 0, 4));
    return this.op(0x8a, 8, ...this.le(n, 8));
  }

  float(x: number): this {
    const b = new DataView(new ArrayBuffer(8));
    b.setFloat64(0, x, false);
    return this.op(0x47, ...new Uint8Array(b.buffer)); // BINFLOAT, big-endian
  }

  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }

  ints(values: number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export interface TensorSpec {
  name: string;
  shape: number[];
  /** Defaults to the contiguous strides. */
  stride?: number[];
  /** A number, or NaN / Infinity for a hostile one. */
  offset?: number;
  /** Which storage (index into `storages`). */
  storage?: number;
}

/** `_rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, shape, stride, False)`, as torch writes it. */
export function tensorCall(p: Pickle, t: TensorSpec, storageNumel: number): Pickle {
  const contiguous = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', 'FloatStorage').str(String(t.storage ?? 0)).str('cpu').int(storageNumel).tuple().persistentId();
  const offset = t.offset ?? 0;
  if (Number.isInteger(offset)) p.int(offset);
  else p.float(offset);
  p.ints(t.shape).ints(t.stride ?? contiguous).newFalse().tuple();
  return p.reduce();
}

/** `{"model": {name: tensor, ...}}` over float32 storages: given values, or an element count (filled with 0.5). */
export function torchCheckpoint(tensors: TensorSpec[], storages: (number | Float32Array)[] = [1]): Uint8Array {
  const data = storages.map((s) => (typeof s === 'number' ? new Float32Array(s).fill(0.5) : s));
  const p = new Pickle().emptyDict().mark().str('model').emptyDict().mark();
  for (const t of tensors) tensorCall(p.str(t.name), t, data[t.storage ?? 0].length);
  p.setItems().setItems();
  return torchZip(p.stop().bytes(), data.map((d) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
}

/** A torch.save-style zip around any pickle (`archive/data.pkl`) and its storages (`archive/data/<i>`). */
export function torchZip(pickle: Uint8Array, storages: Uint8Array[] = []): Uint8Array {
  return storedZip([['archive/data.pkl', pickle], ['archive/version', new TextEncoder().encode('3\n')], ...storages.map((s, i) => [`archive/data/${i}`, s] as [string, Uint8Array])]);
}

/** A zip of stored (uncompressed) entries, without ZIP64: small test files only. */
export function storedZip(entries: [string, Uint8Array][]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = new TextEncoder().encode(name);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, nameBytes.length, true);
    const record = new DataView(new ArrayBuffer(46));
    record.setUint32(0, 0x02014b50, true);
    record.setUint16(4, 20, true);
    record.setUint16(6, 20, true);
    record.setUint32(20, data.length, true);
    record.setUint32(24, data.length, true);
    record.setUint16(28, nameBytes.length, true);
    record.setUint32(42, offset, true);
    chunks.push(new Uint8Array(local.buffer), nameBytes, data);
    central.push(new Uint8Array(record.buffer), nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const centralSize = central.reduce((n, c) => n + c.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, centralSize, true);
  end.setUint32(16, offset, true);
  return Buffer.concat([...chunks, ...central, new Uint8Array(end.buffer)]);
}
