/** What a person sees while `lut build` works: the overall count and the time left, on a terminal only. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lutBuildProgress, lutBuildStatus, roughDuration } from '../src/cli/progress.js';

const at = (blocks: [number, number], training: [number, number]) => ({ blocks: { done: blocks[0], total: blocks[1] }, training: { done: training[0], total: training[1] } });

describe("lut build's overall progress", () => {
  it('counts blocks and training models, and gives the time left at the pace of the phase it is in', () => {
    // Nothing timed yet: no pace, no estimate.
    expect(lutBuildStatus(at([0, 82], [0, 24]), { blocks: 5, training: 0 })).toBe('blocks 0/82, training models 0/24');
    // 16 blocks in 32 s: 2 s a block, 66 to go.
    expect(lutBuildStatus(at([16, 82], [0, 24]), { blocks: 32, training: 0 })).toBe('blocks 16/82, training models 0/24, ~2 min left for the blocks');
    // The training models' pace is their own: none until a group of them is done.
    expect(lutBuildStatus(at([82, 82], [0, 24]), { blocks: 164, training: 3 })).toBe('blocks 82/82, training models 0/24');
    expect(lutBuildStatus(at([82, 82], [8, 24]), { blocks: 164, training: 40 })).toBe('blocks 82/82, training models 8/24, ~80 s left');
    expect(lutBuildStatus(at([82, 82], [24, 24]), { blocks: 164, training: 120 })).toBe('blocks 82/82, training models 24/24, fitting the correction');
    // No training models (--training 0): the blocks' time is all that is left.
    expect(lutBuildStatus(at([40, 80], [0, 0]), { blocks: 20, training: 0 })).toBe('blocks 40/80, ~20 s left');
  });

  it('rounds the time left as a person reads it', () => {
    expect([roughDuration(0.2), roughDuration(45), roughDuration(89), roughDuration(95), roughDuration(3000), roughDuration(7260)]).toEqual(['1 s', '45 s', '89 s', '2 min', '50 min', '2 h 1 min']);
  });

  describe('on stderr', () => {
    const saved = (['isTTY', 'columns'] as const).map((key) => [key, Object.getOwnPropertyDescriptor(process.stderr, key)] as const);
    afterEach(() => {
      vi.restoreAllMocks();
      for (const [key, d] of saved) {
        if (d) Object.defineProperty(process.stderr, key, d);
        else delete (process.stderr as { isTTY?: boolean; columns?: number })[key];
      }
    });

    it('a terminal sees each phase timed from its own start, the current step after the count', () => {
      Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
      Object.defineProperty(process.stderr, 'columns', { value: 100, configurable: true });
      const written: string[] = [];
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
      let clock = 1_000_000;
      const progress = lutBuildProgress(false, () => clock)!;
      progress.overall(at([0, 16], [0, 8]));
      clock += 20_000;
      progress.overall(at([8, 16], [0, 8]));
      progress.step('measuring network.0.1#abcd1234');
      clock += 20_000;
      progress.overall(at([16, 16], [0, 8]));
      clock += 60_000;
      progress.overall(at([16, 16], [4, 8]));
      const shown = written.map((w) => w.replace(/^\r/, '').trim());
      expect(shown).toEqual([
        'blocks 0/16, training models 0/8',
        'blocks 8/16, training models 0/8, ~20 s left for the blocks',
        'blocks 8/16, training models 0/8, ~20 s left for the blocks · measuring network.0.1#abcd1234',
        'blocks 16/16, training models 0/8',
        // 4 training models in the 60 s since the blocks finished: 60 s for the other 4.
        'blocks 16/16, training models 4/8, ~60 s left',
      ]);
    });

    it('is silent when stderr is not a terminal (logs, CI)', () => {
      Object.defineProperty(process.stderr, 'isTTY', { value: undefined, configurable: true });
      const write = vi.spyOn(process.stderr, 'write');
      expect(lutBuildProgress(false)).toBeUndefined();
      expect(write).not.toHaveBeenCalled();
    });
  });
});
