/**
 * Webhook signatures: `Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the HMAC (RFC 2104, with
 * SHA-256) is keyed with the webhook's secret over `<t>.<raw body>`. The timestamp inside the signed text lets
 * a receiver refuse replays older than a window (docs/webhooks.md). `v1` names the scheme, so a later one can
 * be sent beside it while receivers move over.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new webhook secret: `whsec_` and 256 random bits, base64url. */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** The hex HMAC-SHA256 of `<t>.<body>` under `secret`. */
export function sign(secret: string, t: number, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

/** The Parley-Signature header value for `body` at unix time `t` (seconds). */
export function signatureHeader(secret: string, body: Buffer | string, t: number = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${sign(secret, t, body)}`;
}

/**
 * Verifies a Parley-Signature header as a receiver does: some `v1` matches (in constant time) and `t` is within
 * `toleranceSeconds` of now. Parley itself only signs; this is the reference the docs and tests follow.
 */
export function verifySignature(secret: string, header: string, body: Buffer | string, toleranceSeconds = 300, now: number = Date.now()): boolean {
  let t = NaN;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.split('=', 2) as [string, string | undefined];
    if (k === 't' && v !== undefined) t = Number(v);
    else if (k === 'v1' && v !== undefined) v1.push(v);
  }
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, t, body), 'hex');
  return v1.some((s) => {
    const given = Buffer.from(s, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
