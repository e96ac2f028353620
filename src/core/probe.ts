/** One external piece `eformer doctor` reports: found (with what) or missing (with how to install it). */
export interface Probe {
  name: string;
  found: string | undefined;
  install: string;
}
