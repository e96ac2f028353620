/** Number formatting shared by tables. */
export const millions = (n: number, digits = 3) => (n / 1e6).toFixed(digits);
export const billions = (n: number, digits = 3) => (n / 1e9).toFixed(digits);
export const grouped = (n: number) => n.toLocaleString('en-US');
