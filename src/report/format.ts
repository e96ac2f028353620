/** Number formatting shared by tables. */
export const millions = (n: number, digits = 3) => (n / 1e6).toFixed(digits);
export const billions = (n: number, digits = 3) => (n / 1e9).toFixed(digits);
export const grouped = (n: number) => n.toLocaleString('en-US');
/** A paper's latency as papers print it: its own digits, at least one decimal (3.0, 0.78). */
export const paperMs = (ms: number) => (Number.isInteger(ms) ? ms.toFixed(1) : String(ms));
