/**
 * Time-limited TURN credentials from a secret shared with the TURN server (the scheme coturn checks with
 * use-auth-secret): the user name is `<expiry in Unix seconds>:<user>`, the password the base64 HMAC-SHA1 of the
 * user name keyed by the secret. The TURN server recomputes the password and refuses an expired user name, so
 * Parley never stores or hands out a long-lived TURN password.
 */
import { createHmac } from 'node:crypto';

/** Credentials for `user` valid until `nowMs + seconds`. */
export function turnCredentials(secret: string, user: string, nowMs: number, seconds: number): { username: string; password: string; expires: number } {
  const expires = Math.floor(nowMs / 1000) + seconds;
  const username = `${expires}:${user}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password, expires };
}
