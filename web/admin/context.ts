/**
 * The console's state: the signed-in identity, the SDK client made from its CSRF value, what `/admin/me` said,
 * and the current route (the path under /admin/, drawn by the page; the server answers admin.html for all).
 */
import { signal } from '@preact/signals';
import { AdminApiError, AdminClient } from '../../client/admin.js';
import type { WebIdentity } from '../shared/web-session.js';

/** What GET /api/v1/admin/me answers. */
export interface Me {
  address: string;
  admin: boolean;
  roles: string[];
}

/** The web session, or null when signed out. */
export const identity = signal<WebIdentity | null>(null);
/** Who the server says the reader is. */
export const me = signal<Me | null>(null);
/** The route: the path's segments under /admin/ (decoded). */
export const route = signal<string[]>(segments(location.pathname));
/** The latest outcome of an action, read out by a polite live region. */
export const notice = signal('');

let client: AdminClient | null = null;

/** The SDK client of the current session. */
export function api(): AdminClient {
  const id = identity.value;
  if (client === null || id === null) client = new AdminClient({ csrf: id?.csrf ?? null });
  return client;
}

/** Forgets the client (a new session has a new CSRF value). */
export function resetApi(): void {
  client = null;
}

/**
 * What a refused call says about the reader, acted on at once: 401 (the session was ended or its token revoked,
 * by a password reset or a disabling) signs the console out; 403 (rights taken while the page was open) asks
 * the server again who the reader is, so the menu, or "No access", follows without a reload.
 */
export function onRefused(e: unknown): void {
  if (!(e instanceof AdminApiError) || identity.value === null) return;
  if (e.status === 401) {
    identity.value = null;
    me.value = null;
    resetApi();
  } else if (e.status === 403) {
    api()
      .me()
      .then((m) => {
        const was = me.value;
        if (was === null || was.admin !== m.admin || was.roles.join() !== m.roles.join()) me.value = m;
      })
      .catch(() => undefined);
  }
}

function segments(path: string): string[] {
  return path
    .replace(/^\/admin\/?/, '')
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent);
}

/** The URL of a route. */
export function hrefOf(...parts: string[]): string {
  return `/admin/${parts.map(encodeURIComponent).join('/')}`;
}

/** Goes to a route without reloading (the back button returns). */
export function navigate(href: string): void {
  history.pushState(null, '', href);
  route.value = segments(new URL(href, location.href).pathname);
  notice.value = '';
  // As a page load would, start the reader (and a screen reader) at the top of the new page.
  requestAnimationFrame(() => document.getElementById('main')?.focus());
}

addEventListener('popstate', () => {
  route.value = segments(location.pathname);
});
