/** The days of a usage report: every day of the range present, oldest first, zeros where nothing happened. */
import { daysBefore, emptyDay, type DayReport } from './model.js';
import type { UsageArea } from './sqlite.js';

/** Most days one report covers. */
export const MAX_DAYS = 400;

/** The `days` days ending with `today`, oldest first, each present. */
export async function dailyReport(area: UsageArea, days: number, today: string): Promise<DayReport[]> {
  const from = daysBefore(today, days - 1);
  const stored = new Map((await area.days(from, today)).map((d) => [d.day, d]));
  const out: DayReport[] = [];
  for (let i = days - 1; i >= 0; i--) {
    const day = daysBefore(today, i);
    out.push(stored.get(day) ?? emptyDay(day));
  }
  return out;
}
