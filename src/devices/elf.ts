/**
 * What a native binary was built for, read from its ELF header before it is pushed to a device: the
 * CPU (e_machine), 32 or 64 bits, and the dynamic loader it asks for (PT_INTERP). Android
 * executables ask for /system/bin/linker64 (or are static); a Linux build asks for glibc's
 * /lib/ld-linux-aarch64.so.1, which a phone does not have, and fails there with a bare "No such
 * file or directory". Every offset is checked against the file before it is read: the file is the
 * user's, and may be anything.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface ElfFacts {
  bits: 32 | 64;
  /** e_machine as a name: aarch64, arm, x86_64, x86, riscv64, ... or `machine N`. */
  machine: string;
  /** The program interpreter (dynamic loader), absent for a static binary. */
  interpreter?: string;
}

const MACHINES: Record<number, string> = { 3: 'x86', 8: 'mips', 20: 'powerpc', 21: 'powerpc64', 40: 'arm', 62: 'x86_64', 183: 'aarch64', 243: 'riscv64' };
const PT_INTERP = 3;
/** A loader path longer than this is not one. */
const MAX_INTERPRETER = 4096;
const MAX_PROGRAM_HEADERS = 4096;

/** Facts from an ELF header, or a sentence saying why the file is not a readable ELF executable. */
export function readElf(path: string): ElfFacts | { problem: string } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (offset: number, length: number): Buffer | undefined => {
      if (offset < 0 || length < 0 || offset + length > size) return undefined;
      const b = Buffer.alloc(length);
      return readSync(fd, b, 0, length, offset) === length ? b : undefined;
    };
    const ident = read(0, 64);
    if (!ident || ident.readUInt32BE(0) !== 0x7f454c46) {
      const start = (ident ?? read(0, Math.min(size, 16)) ?? Buffer.alloc(0)).subarray(0, 16).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
      return { problem: size === 0 ? 'it is empty' : `it is not an executable (ELF) file: it starts with "${start}"` };
    }
    const bits = ident[4] === 2 ? 64 : ident[4] === 1 ? 32 : undefined;
    if (!bits) return { problem: `its ELF class byte is ${ident[4]}, neither 32- nor 64-bit` };
    if (ident[5] !== 1) return { problem: 'it is a big-endian ELF file, which no Android CPU runs' };
    const u = (b: Buffer, at: number, width: number) => (width === 8 ? Number(b.readBigUInt64LE(at)) : width === 4 ? b.readUInt32LE(at) : b.readUInt16LE(at));
    const code = ident.readUInt16LE(18);
    const machine = MACHINES[code] ?? `machine ${code}`;
    const [phoff, phentsize, phnum] = bits === 64 ? [u(ident, 32, 8), u(ident, 54, 2), u(ident, 56, 2)] : [u(ident, 28, 4), u(ident, 42, 2), u(ident, 44, 2)];
    if (phnum > MAX_PROGRAM_HEADERS || phentsize < (bits === 64 ? 56 : 32)) return { bits, machine };
    for (let i = 0; i < phnum; i++) {
      const ph = read(phoff + i * phentsize, phentsize);
      if (!ph) break;
      if (ph.readUInt32LE(0) !== PT_INTERP) continue;
      const [offset, length] = bits === 64 ? [u(ph, 8, 8), u(ph, 32, 8)] : [u(ph, 4, 4), u(ph, 16, 4)];
      const text = length > 0 && length <= MAX_INTERPRETER ? read(offset, length) : undefined;
      return { bits, machine, interpreter: text?.toString('latin1').replace(/\0+$/, '') };
    }
    return { bits, machine };
  } finally {
    closeSync(fd);
  }
}

/** Android's 64-bit dynamic loader; a binary asking for another one was built for (desktop) Linux. */
export const ANDROID_LOADER_64 = '/system/bin/linker64';

/**
 * Why `path` cannot run on an arm64 Android phone, or undefined when it can: not an ELF file,
 * another CPU, 32-bit ARM, or a Linux (glibc) build.
 */
export function notAndroidArm64(path: string): string | undefined {
  const elf = readElf(path);
  if ('problem' in elf) return elf.problem;
  if (elf.machine !== 'aarch64' || elf.bits !== 64) return `it is built for ${elf.bits}-bit ${elf.machine}, not arm64 (aarch64)`;
  if (elf.interpreter !== undefined && elf.interpreter !== ANDROID_LOADER_64) return `it is built for Linux, not Android (it asks for the loader ${elf.interpreter})`;
  return undefined;
}
