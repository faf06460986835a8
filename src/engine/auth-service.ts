/**
 * Password login: throttled per account and per source address (src/auth/throttle.ts), verified against the
 * stored SCRAM-SHA-256 keys (no plain password is ever stored), answered with a session token.
 *
 * Every way in also says which credentials it was judged against (a fingerprint of the stored keys), so that
 * the engine can end the sessions that were opened before a password change (Engine.openSession).
 */
import { createHash, randomBytes } from 'node:crypto';
import { ParleyError } from '../core/errors.js';
import { parseUserAddress } from '../core/address.js';
import {
  ScramServer,
  deriveCredentials,
  verifyPassword,
  type ChannelBindingSupport,
  type ScramMechanismName,
} from '../auth/scram.js';
import { LoginThrottle, sourceKey } from '../auth/throttle.js';
import { issueToken, resolveToken, revokeToken } from '../auth/tokens.js';
import type { Credentials, ScramCredential } from '../ports/store.js';
import { addUser, rekey } from './admin-service.js';
import type { Ctx } from './context.js';
import { CredentialVerifiers, type CredentialVerifier } from './credential-verifiers.js';

/** Throttle settings. */
export interface AuthOptions {
  freeFailures: number;
  lockAfter: number;
  ipLockAfter: number;
  /** Logins in flight at once from one source address. */
  ipMaxInFlight?: number;
  /** Logins to one account in flight at once from one source address. */
  ipAccountMaxInFlight?: number;
  /** Time a client has to finish a login exchange it started (after any throttle delay). */
  exchangeTimeoutMs?: number;
  lockMs: number;
}

/** Default of AuthOptions.exchangeTimeoutMs (and of the throttle's pendingMs). */
const EXCHANGE_TIMEOUT_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Name of the installation secret behind unknown users' SCRAM salts (SecretStore). */
const UNKNOWN_USER_SECRET = 'scram-unknown-users';

/** Self-service registrations allowed per source address and hour. */
const REGISTRATIONS_PER_HOUR = 5;
/** Shortest password a user may choose for itself. */
const MIN_SELF_PASSWORD = 8;

/** Options of one SASL exchange (see AuthService.scram). */
export interface SaslExchangeOptions {
  /** Channel binding of the connection, for -PLUS mechanisms (RFC 5802 §6). */
  channelBinding?: ChannelBindingSupport;
  /**
   * Called when the client left the exchange unfinished past its time: the exchange has failed (it no longer
   * counts against the account) and the front door should say so and forget it.
   */
  onTimeout?: () => void;
}

/** One SASL exchange in progress (see AuthService.scram). */
export interface SaslExchange {
  /** Answers the client-first-message with the server-first-message. */
  start(clientFirst: string): Promise<string>;
  /**
   * Checks the client-final-message; returns the account, the fingerprint of the credentials it proved
   * (see credentialsMark) and the server-final-message, or throws.
   */
  finish(clientFinal: string): Authenticated & { serverFinal: string };
  /** The client gave up mid-exchange: the reserved attempt counts neither way. */
  abort(): void;
}

/** Who authenticated, and the fingerprint of the credentials (or token's account credentials) at that moment. */
export interface Authenticated {
  user: string;
  /** credentialsMark() of the account's stored credentials when it was authenticated. */
  credentials: string;
  /** The credential a registered verifier accepted (VerifiedCredential.ref); absent for passwords and tokens. */
  credentialRef?: string;
}

/** Why a disabled account's sign-in is refused (only once the credential was proved, so it tells no prober). */
const DISABLED = 'this account is disabled; an administrator can enable it';

/** The refusal of a disabled account's sign-in. */
const disabledError = (): ParleyError => new ParleyError('account-disabled', DISABLED);

/** Why a bot's password login is refused, before any password is checked. */
const BOT_PASSWORD = 'this account is a bot: it has no password and logs in with an API key (docs/bots.md)';

/**
 * A short fingerprint of stored credentials. Every password change derives fresh salts (RFC 5802 §5.1), so the
 * fingerprint changes with every change, even to the same password; comparing it tells whether a session was
 * authenticated against the credentials stored now.
 */
export function credentialsMark(c: Credentials): string {
  const parts = (['SCRAM-SHA-256', 'SCRAM-SHA-1'] as const).map((m) => `${c[m].salt}:${c[m].iterations}:${c[m].storedKey}`);
  return createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 22);
}

/** The account a SASL username names: a whole address, or a local part of `domain`. */
export function accountKey(username: string, domain: string): string {
  try {
    const a = parseUserAddress(username.includes('@') ? username : `${username}@${domain}`);
    return `${a.local}@${a.domain}`;
  } catch {
    // Not a valid address: keep a key for the throttle; no account has it.
    return `${username}@${domain}`;
  }
}

/** Logins, tokens and password changes. */
export class AuthService {
  private readonly throttle: LoginThrottle;
  /** Source address → times of recent self-service registrations. */
  private readonly registrations = new Map<string, number[]>();
  /** Verified against for unknown accounts, so they cost the same time as known ones. */
  private decoy: Promise<ScramCredential> | null = null;
  private readonly exchangeTimeoutMs: number;
  /** Key of unknown users' fake SCRAM credentials, from the database (see start()). */
  private unknownUserSecret: Buffer | null = null;
  /** Credentials other than passwords and session tokens (credential-verifiers.ts). */
  private readonly verifiers = new CredentialVerifiers();

  constructor(
    private readonly ctx: Ctx,
    opts: AuthOptions,
  ) {
    this.throttle = new LoginThrottle({
      freeFailures: opts.freeFailures,
      lockAfter: opts.lockAfter,
      ipLockAfter: opts.ipLockAfter,
      ipMaxInFlight: opts.ipMaxInFlight,
      ipAccountMaxInFlight: opts.ipAccountMaxInFlight,
      pendingMs: opts.exchangeTimeoutMs ?? EXCHANGE_TIMEOUT_MS,
      lockMs: opts.lockMs,
      windowMs: Math.max(opts.lockMs, 60_000),
      now: ctx.now,
    });
    this.exchangeTimeoutMs = opts.exchangeTimeoutMs ?? EXCHANGE_TIMEOUT_MS;
  }

  /**
   * Loads the installation's secret for unknown users' SCRAM salts, creating it on first start. It lives in the
   * database, not the process: a salt that changed with every restart would tell an attacker that nobody has
   * that name, since a real user's salt stays until the password changes.
   */
  async start(): Promise<void> {
    const stored = await this.ctx.store.secrets.ensure(UNKNOWN_USER_SECRET, randomBytes(32).toString('base64'));
    this.unknownUserSecret = Buffer.from(stored, 'base64');
  }

  /** Checks a password; returns the normalised bare address or throws not-authorized / account-locked. */
  async verify(address: string, password: string, ip: string): Promise<string> {
    return (await this.authenticate(address, password, ip)).user;
  }

  /**
   * A secret sent where a password goes (SASL PLAIN, RFC 4616): a credential a registered verifier recognises
   * (a bot's API key, which has no password and cannot use SCRAM) is checked as by authenticateWith and must
   * act for `address` itself; anything else is a password (authenticate). A key for another account is refused
   * exactly as a wrong password is.
   */
  async authenticateSecret(address: string, secret: string, ip: string): Promise<Authenticated> {
    const v = this.verifiers.recognising(secret);
    if (v === null) return this.authenticate(address, secret, ip);
    const user = loginAddress(address);
    const auth = await this.authenticateWith(v.kind, secret);
    if (auth.user !== user) {
      this.ctx.metrics.login('failed');
      throw new ParleyError('not-authorized', 'wrong address or password');
    }
    return auth;
  }

  /** Like verify, and also says which credentials the password matched (for Engine.openSession). */
  async authenticate(address: string, password: string, ip: string): Promise<Authenticated> {
    const user = loginAddress(address);
    const { delayMs, ticket } = this.reserve(user, ip);
    let ok: boolean;
    let credentials: Credentials | null = null;
    let disabled = false;
    try {
      if (delayMs > 0) await sleep(delayMs);
      const acc = await this.ctx.store.accounts.get(user);
      if (acc?.kind === 'bot') throw new ParleyError('not-authorized', BOT_PASSWORD, { reason: 'bot-account' });
      disabled = acc?.disabled ?? false;
      credentials = acc?.credentials ?? null;
      const cred = credentials?.['SCRAM-SHA-256'] ?? (await this.decoyCredential());
      ok = (await verifyPassword(password, cred, 'SCRAM-SHA-256')) && credentials !== null;
    } catch (e) {
      this.throttle.release(user, ip, ticket); // the attempt was reserved by check(); do not leave it hanging
      throw e;
    }
    if (!ok || credentials === null) {
      this.throttle.fail(user, ip, ticket);
      this.ctx.metrics.login('failed');
      throw new ParleyError('not-authorized', 'wrong address or password');
    }
    if (disabled) {
      // The right password: no failure to count, and no success either.
      this.throttle.release(user, ip, ticket);
      throw disabledError();
    }
    this.throttle.succeed(user, ip, ticket);
    this.ctx.metrics.login('ok');
    return { user, credentials: credentialsMark(credentials) };
  }

  /**
   * The server side of one SASL SCRAM exchange (RFC 5802, RFC 7677; XMPP: RFC 6120 §6) for an account of
   * `domain`, throttled exactly like a password login: a locked account or address is refused before the
   * server-first-message, delays apply, and the outcome counts as a success or failure. The SCRAM username is
   * the account's local part (or a whole address).
   *
   * The attempt is reserved with the throttle from the client-first-message on. A client that then goes quiet
   * gets `exchangeTimeoutMs` (after the throttle's delay) to send its client-final-message; after that the
   * exchange fails, its reservation is released (an idle exchange is not a failed password, and must not keep
   * the account's real user out), and `onTimeout` tells the front door.
   */
  scram(mech: ScramMechanismName, domain: string, ip: string, opts: SaslExchangeOptions = {}): SaslExchange {
    let reserved: { user: string; ticket: number } | null = null;
    let timer: NodeJS.Timeout | null = null;
    let timedOut = false;
    let mark = '';
    let disabled = false;
    const server = new ScramServer(
      mech,
      async (username, hashMech) => {
        const user = accountKey(username, domain);
        const { delayMs, ticket } = this.reserve(user, ip);
        reserved = { user, ticket };
        timer = setTimeout(() => {
          timer = null;
          timedOut = true;
          settle(null);
          opts.onTimeout?.();
        }, delayMs + this.exchangeTimeoutMs);
        timer.unref();
        if (delayMs > 0) await sleep(delayMs);
        const acc = await this.ctx.store.accounts.get(user);
        // A bot has no password: it is answered like an unknown account, and fails.
        if (acc === null || acc.kind === 'bot') return null;
        mark = credentialsMark(acc.credentials);
        disabled = acc.disabled;
        return acc.credentials[hashMech];
      },
      {
        // Unknown users are announced like real ones: the configured iteration count, a salt from the secret.
        fakeIterations: this.ctx.opts.scramIterations,
        canonicalUser: (username) => accountKey(username, domain),
        ...(this.unknownUserSecret ? { secret: this.unknownUserSecret } : {}),
        ...(opts.channelBinding ? { channelBinding: opts.channelBinding } : {}),
      },
    );
    const settle = (ok: boolean | null): void => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      const r = reserved;
      if (r === null) return;
      reserved = null;
      if (ok === null) return this.throttle.release(r.user, ip, r.ticket);
      if (ok) {
        this.throttle.succeed(r.user, ip, r.ticket);
        this.ctx.metrics.login('ok');
      } else {
        this.throttle.fail(r.user, ip, r.ticket);
        this.ctx.metrics.login('failed');
      }
    };
    return {
      start: async (clientFirst) => {
        try {
          return await server.start(clientFirst);
        } catch (e) {
          settle(false);
          throw e;
        }
      },
      finish: (clientFinal) => {
        // Too late: the attempt no longer counts, so its proof is not checked either (that would be a free guess).
        if (timedOut) throw new ParleyError('not-authorized', 'the authentication exchange took too long', { scramError: 'other-error' });
        const user = reserved?.user ?? '';
        let serverFinal: string;
        try {
          serverFinal = server.finish(clientFinal);
        } catch (e) {
          settle(false);
          throw e;
        }
        // RFC 6120 §6.5.1: a disabled account is told so, only after it proved the password (no probing).
        if (disabled) {
          settle(null);
          throw disabledError();
        }
        settle(true);
        return { user, credentials: mark, serverFinal };
      },
      abort: () => settle(null),
    };
  }

  /** Reserves a login attempt with the throttle (throws when locked); returns the delay to impose and the ticket. */
  private reserve(user: string, ip: string): { delayMs: number; ticket: number } {
    try {
      return this.throttle.check(user, ip);
    } catch (e) {
      this.ctx.metrics.login('locked');
      throw e;
    }
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
    if (!user) throw new ParleyError('not-authorized', 'the token is unknown, expired or revoked: sign in again with the password');
    return user;
  }

  /**
   * Like resolve, for opening a session: also the fingerprint of the account's credentials as they are now.
   * A password change revokes the tokens and changes the credentials in one go; read right after the token,
   * the fingerprint lets Engine.openSession refuse a token that was valid a moment before such a change.
   */
  async resolveSession(token: string): Promise<Authenticated> {
    const user = await this.resolve(token);
    const acc = await this.ctx.store.accounts.get(user);
    if (acc === null) throw new ParleyError('not-authorized', 'the token is unknown, expired or revoked: sign in again with the password');
    if (acc.disabled) throw disabledError();
    return { user, credentials: credentialsMark(acc.credentials) };
  }

  /**
   * Registers the verifier of one kind of credential (a module's setup: the apikeys module registers `apiKey`).
   * A second verifier of the same kind is a start-up error.
   */
  addVerifier(v: CredentialVerifier): void {
    this.verifiers.register(v);
  }

  /**
   * Authenticates with a credential of `kind` (the JSON hello's `apiKey`): the registered verifier says which
   * account it acts for, then the account must exist and be a bot. Returns what openSession needs, with the
   * credential's reference (its sessions end when it is revoked). Refusals: not-authorized (unknown, wrong or
   * revoked credential; no such account; no verifier of that kind), forbidden (the account is not a bot, or
   * the credential does not allow it), rate-limited.
   */
  async authenticateWith(kind: string, credential: string): Promise<Authenticated> {
    const { user, ref } = await this.verifiers.of(kind).verify(credential);
    const acc = await this.ctx.store.accounts.get(user);
    if (acc === null) throw new ParleyError('not-authorized', 'the account of this credential was removed');
    if (acc.kind !== 'bot') throw new ParleyError('forbidden', `${kind} logins are for bot accounts; ${user} is a person and logs in with a password`, { reason: 'not-a-bot' });
    if (acc.disabled) throw disabledError();
    this.ctx.metrics.login('ok');
    return { user, credentials: credentialsMark(acc.credentials), credentialRef: ref };
  }

  /**
   * The user of an HTTP bearer token: a credential a registered verifier recognises (a bot's API key, checked
   * as by authenticateWith), else a session token.
   */
  async resolveBearer(token: string): Promise<Authenticated> {
    const v = this.verifiers.recognising(token);
    if (v !== null) return this.authenticateWith(v.kind, token);
    const user = await this.resolve(token);
    // Read from the store, so a disabling counts at once (its tokens were revoked too, but not atomically).
    if ((await this.ctx.store.accounts.get(user))?.disabled === true) throw disabledError();
    return { user, credentials: '' };
  }

  /** Revokes a token. */
  async logout(token: string): Promise<void> {
    await revokeToken(this.ctx.store.tokens, token);
  }

  /**
   * Self-service account creation (XMPP in-band registration, XEP-0077), where the operator opened it for the
   * domain. At most REGISTRATIONS_PER_HOUR per source address (IPv6 /64), and a password of at least
   * MIN_SELF_PASSWORD characters.
   */
  async register(address: string, password: string, ip: string): Promise<string> {
    const a = parseUserAddress(address);
    if (a.resource !== null) throw new ParleyError('jid-malformed', 'a user name has no resource');
    const user = `${a.local}@${a.domain}`;
    if ([...password].length < MIN_SELF_PASSWORD) throw new ParleyError('not-acceptable', `choose a password of at least ${MIN_SELF_PASSWORD} characters`);
    const key = sourceKey(ip);
    const now = this.ctx.now();
    const recent = (this.registrations.get(key) ?? []).filter((t) => now - t < 3_600_000);
    if (recent.length >= REGISTRATIONS_PER_HOUR) throw new ParleyError('rate-limited', 'too many accounts created from this address; try again later');
    if (!this.ctx.directory.hostsDomain(a.domain)) throw new ParleyError('remote-server-not-found', `domain ${a.domain} is not served here`);
    await addUser(this.ctx.store, user, password, { admin: false, iterations: this.ctx.opts.scramIterations, now, by: user }, (c, write) =>
      this.ctx.events.change(c, write),
    );
    recent.push(now);
    this.registrations.set(key, recent);
    this.ctx.directory.forget(user);
    await this.ctx.events.emit('account.created', { address: user, by: user });
    return user;
  }

  /**
   * Sets a new password (stored as SCRAM keys only) and revokes all tokens of the user; returns the new
   * credentials' fingerprint. Ending the user's other sessions is the engine's part (Engine.changePassword).
   */
  async setPassword(user: string, password: string): Promise<string> {
    return credentialsMark(await rekey(this.ctx.store, user, password, this.ctx.opts.scramIterations));
  }

  private decoyCredential(): Promise<ScramCredential> {
    this.decoy ??= deriveCredentials(`decoy-${Math.random()}`, this.ctx.opts.scramIterations).then((c) => c['SCRAM-SHA-256']);
    return this.decoy;
  }
}

/** The account a login names; a malformed address fails exactly as a wrong password does (nothing to probe). */
function loginAddress(address: string): string {
  try {
    const a = parseUserAddress(address);
    return `${a.local}@${a.domain}`;
  } catch {
    throw new ParleyError('not-authorized', 'wrong address or password');
  }
}
