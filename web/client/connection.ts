/**
 * The web client's link to the server: the SDK's ClientSession over the browser's WebSocket, authenticated by
 * the HttpOnly session cookie (`hello {cookie: true}`), and the web session calls over fetch, which repeat the
 * session's CSRF value on every state-changing call (src/protocols/http/web-session.ts).
 */
import { ClientSession, ParleyApiError, type ParleyEvent, type SessionOptions } from '../../client/session.js';

/** A JSON WebSocket session from a browser page. */
export class BrowserSession extends ClientSession<WebSocket> {
  /**
   * Opens the page's origin's /ws, says hello with the session cookie and resolves once the server replied;
   * `onEvent` hears every event from the first (the presence snapshot comes before hello's reply).
   */
  static async open(opts: Omit<SessionOptions, 'url' | 'cookie'>, onEvent: (e: ParleyEvent) => void): Promise<BrowserSession> {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new ParleyApiError('service-unavailable', 'the server cannot be reached')), { once: true });
    });
    const s = new BrowserSession(ws, { ...opts, url, cookie: true, keepEvents: false });
    s.on('*', onEvent);
    await s.start();
    return s;
  }
}

/** What to show a person for a failed call: the server's message without its code prefix (`forbidden: …`). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.replace(/^[a-z-]+: /, '') : String(err);
}

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
export function signIn(address: string, password: string): Promise<WebIdentity> {
  return call<WebIdentity>('POST', '/api/v1/web/login', { address, password });
}

/** Ends the web session and clears its cookie. */
export async function signOut(csrf: string): Promise<void> {
  await call('POST', '/api/v1/web/logout', {}, csrf);
}
