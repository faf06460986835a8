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

// The web session's calls are the ones every Parley web app makes (web/shared/web-session.ts).
export { currentIdentity, messageOf, signIn, signOut, type WebIdentity } from '../shared/web-session.js';
