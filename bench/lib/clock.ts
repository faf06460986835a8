/**
 * The clock the benchmark processes share: wall-clock ms with sub-ms precision
 * (`performance.timeOrigin + performance.now()`), so a time taken in one process compares with one taken in
 * another on the same machine.
 */
export const clock = (): number => performance.timeOrigin + performance.now();
