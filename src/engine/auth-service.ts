/**
 * Password login: throttled per account and per source address (src/auth/throttle.ts), verified against the
 * stored SCRAM-SHA-256 keys (no plain password is ever stored), answered with a session token.
 */
import { ParleyError } from '../core/errors.js';
import { parseUserAddress } from '../core/address.js';
import { deriveCredentials, verifyPassword } from '../auth/scram.js';
import { LoginThrottle } from '../auth/throttle.js';
import { issueToken, resolveToken, revokeToken } from '../auth/tokens.js';
import type { ScramCredential } from '../ports/store.js';
import type { Ctx } from './context.js';

/** Throttle settings. */
export interface AuthOptions {
  freeFailures: number;
  lockAfter: number;
  ipLockAfter: number;
  lockMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Logins, tokens and password changes. */
export class AuthService {
  private readonly throttle: LoginThrottle;
  /** Verified against for unknown accounts, so they cost the same time as known ones. */
  private decoy: Promise<ScramCredential> | null = null;

  constructor(
    private readonly ctx: Ctx,
    opts: AuthOptions,
  ) {
    this.throttle = new LoginThrottle({
      freeFailures: opts.freeFailures,
      lockAfter: opts.lockAfter,
      ipLockAfter: opts.ipLockAfter,
      lockMs: opts.lockMs,
      windowMs: Math.max(opts.lockMs, 60_000),
      now: ctx.now,
    });
  }

  /** Checks a password; returns the normalised bare address or throws not-authorized / account-locked. */
  async verify(address: string, password: string, ip: string): Promise<string> {
    let user: string;
    try {
      const a = parseUserAddress(address);
      user = `${a.local}@${a.domain}`;
    } catch {
      throw new ParleyError('not-authorized', 'wrong address or password');
    }
    let delayMs: number;
    try {
      ({ delayMs } = this.throttle.check(user, ip));
    } catch (e) {
      this.ctx.metrics.login('locked');
      throw e;
    }
    let ok: boolean;
    try {
      if (delayMs > 0) await sleep(delayMs);
      const acc = await this.ctx.store.accounts.get(user);
      const cred = acc?.credentials['SCRAM-SHA-256'] ?? (await this.decoyCredential());
      ok = (await verifyPassword(password, cred, 'SCRAM-SHA-256')) && acc !== null;
    } catch (e) {
      this.throttle.release(user, ip); // the attempt was reserved by check(); do not leave it hanging
      throw e;
    }
    if (!ok) {
      this.throttle.fail(user, ip);
      this.ctx.metrics.login('failed');
      throw new ParleyError('not-authorized', 'wrong address or password');
    }
    this.throttle.succeed(user, ip);
    this.ctx.metrics.login('ok');
    return user;
  }

  /** Password login returning a session token. */
  async login(address: string, password: string, ip: string): Promise<{ address: string; token: string; expiresAt: number }> {
    const user = await this.verify(address, password, ip);
    const t = await issueToken(this.ctx.store.tokens, user, this.ctx.opts.tokenTtlMs, this.ctx.now());
    return { address: user, ...t };
  }

  /** The user a token belongs to, or not-authorized. */
  async resolve(token: string): Promise<string> {
    const user = await resolveToken(this.ctx.store.tokens, token, this.ctx.now());
    if (!user) throw new ParleyError('not-authorized', 'the token is unknown or expired');
    return user;
  }

  /** Revokes a token. */
  async logout(token: string): Promise<void> {
    await revokeToken(this.ctx.store.tokens, token);
  }

  /** Sets a new password (stored as SCRAM keys only) and revokes all tokens of the user. */
  async setPassword(user: string, password: string): Promise<void> {
    const creds = await deriveCredentials(password, this.ctx.opts.scramIterations);
    if (!(await this.ctx.store.accounts.setCredentials(user, creds))) throw new ParleyError('item-not-found', `no such user ${user}`);
    await this.ctx.store.tokens.revokeAll(user);
  }

  private decoyCredential(): Promise<ScramCredential> {
    this.decoy ??= deriveCredentials(`decoy-${Math.random()}`, this.ctx.opts.scramIterations).then((c) => c['SCRAM-SHA-256']);
    return this.decoy;
  }
}
