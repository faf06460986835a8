/** Messages between the server thread and the SQLite worker thread (see worker.ts). */
import { ERRORS, ParleyError, type ErrorCode } from '../../core/errors.js';

/** The prefix of a module's area in a Call, so a module's name can never select one of the core's areas. */
export const MODULE_AREA = 'mod:';

/** One call: id, store area ('' for the store itself, MODULE_AREA + name for a module's), method, arguments. */
export type Call = [id: number, area: string, method: string, args: unknown[]];

/** An error as it crosses threads. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

/** The outcome of one call. */
export type Reply = [id: number, ok: true, value: unknown] | [id: number, ok: false, error: WireError];

/** The worker's first message: ready, or why opening the database failed. */
export type Hello = { ready: true } | { ready: false; error: WireError };

/** Turns a thrown value into plain data that survives postMessage. */
export function toWire(e: unknown): WireError {
  if (e instanceof ParleyError) return { name: e.name, message: e.message, code: e.code, ...(e.details ? { details: e.details } : {}) };
  if (e instanceof Error) return { name: e.name, message: e.message, ...('code' in e && typeof e.code === 'string' ? { code: e.code } : {}) };
  return { name: 'Error', message: String(e) };
}

/** Rebuilds the error on the calling side: ParleyErrors keep their stable code. */
export function fromWire(w: WireError): Error {
  if (w.name === 'ParleyError' && w.code !== undefined && Object.hasOwn(ERRORS, w.code)) {
    return new ParleyError(w.code as ErrorCode, w.message, w.details);
  }
  const e = new Error(w.message);
  e.name = w.name;
  if (w.code !== undefined) Object.assign(e, { code: w.code });
  return e;
}
