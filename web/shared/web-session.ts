/**
 * The web session calls every Parley web app makes (src/protocols/http/web-session.ts): who the page is signed
 * in as, sign in, sign out. The session token stays in an HttpOnly cookie; the page holds only its CSRF value.
 */
import { ParleyApiError } from '../../client/session.js';

/** Who the page is signed in as, with the CSRF value of the session. */
export interface WebIdentity {
  address: string;
  csrf: string;
  /** What the server tells every signed-in person (e.g. that conversations are recorded). */
  notices: string[];
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown, csrf?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (csrf !== undefined) headers['x-parley-csrf'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } } & T;
  if (!res.ok || data.error) throw new ParleyApiError(data.error?.code ?? 'internal-server-error', data.error?.message ?? res.statusText);
  return data;
}

/** The current web session, or null when the page is not signed in. */
export async function currentIdentity(): Promise<WebIdentity | null> {
  const s = await call<{ address: string | null; csrf?: string; notices?: string[] }>('GET', '/api/v1/web/session');
  return s.address !== null && s.csrf !== undefined ? { address: s.address, csrf: s.csrf, notices: s.notices ?? [] } : null;
}

/** Signs in with a password; the server sets the session cookie. */
export async function signIn(address: string, password: string): Promise<WebIdentity> {
  const r = await call<WebIdentity>('POST', '/api/v1/web/login', { address, password });
  return { address: r.address, csrf: r.csrf, notices: r.notices ?? [] };
}

/** Ends the web session and clears its cookie. */
export async function signOut(csrf: string): Promise<void> {
  await call('POST', '/api/v1/web/logout', {}, csrf);
}

/** What to show a person for a failed call: the server's message without its code prefix (`forbidden: …`). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.replace(/^[a-z-]+: /, '') : String(err);
}
