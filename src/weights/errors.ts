import { UsageError } from '../core/errors.js';

/** Anything wrong with a checkpoint file: one clear line, exit 2. */
export class CheckpointError extends UsageError {}
