/** Number formatting shared by tables. */
export const millions = (n: number, digits = 3) => (n / 1e6).toFixed(digits);
export const billions = (n: number, digits = 3) => (n / 1e9).toFixed(digits);
export const grouped = (n: number) => n.toLocaleString('en-US');

/** No colours and no rule between rows: readable in logs and CI output. */
export const plain = {
  style: { head: [], border: [] },
  chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
};

