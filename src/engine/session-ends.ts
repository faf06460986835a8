/**
 * Which account, and which credentials, each session stands on, and the ending of sessions that no longer may
 * run: a password changed (here, on another node, or by the CLI in another process), an account removed or
 * disabled, an API key revoked, an administrator ending one session or all of a user's. The Engine facade
 * (engine.ts) opens and closes sessions; this is its bookkeeping of why a session may stay.
 */
import type { Account } from '../ports/store.js';
import { credentialsMark } from './auth-service.js';
import type { EndCode } from './cluster.js';
import type { Ctx } from './context.js';
import { ParleyError } from '../core/errors.js';
import type { Session } from './session.js';

/**
 * One incarnation of an account. createdSeq alone cannot tell two apart when nothing was logged in between
 * (the old one then has no records to hide either); with the creation time, which differs, it can.
 */
interface Incarnation {
  createdSeq: number;
  createdAt: number;
}

/** What ending sessions needs of the engine. */
export interface SessionEndHooks {
  /** Closes a session as its connection going away would (Engine.closeSession). */
  close(session: Session): Promise<void>;
  /** Forgets a user's cached state (presence, blocks, roster) without recomputing presence: the account is gone. */
  forget(user: string): void;
  /** Recomputes and fans out a user's presence. */
  recompute(user: string): Promise<void>;
}

/** Sessions' accounts and credentials, and the ending of the sessions that lost them. */
export class SessionEnds {
  /**
   * Which incarnation of its account each session belongs to, as the account was when it opened. An address
   * removed and created again by another process is a new account: sessions of the old one must not live on.
   */
  private readonly incarnation = new WeakMap<Session, Incarnation>();
  /**
   * Per online user, the fingerprint (credentialsMark) of the credentials its sessions were opened against. A
   * password change, made here or by another process, ends the sessions whose fingerprint is no longer current.
   */
  private readonly credentialMarks = new Map<string, string>();
  /** The credential (CredentialVerifier's ref, e.g. an API key) each session was opened with, when not a password. */
  private readonly credentialRefs = new WeakMap<Session, string>();

  constructor(
    private readonly ctx: Ctx,
    private readonly hooks: SessionEndHooks,
  ) {}

  /** Binds a new session to its account as it is now, and to the credential it was opened with (not a password). */
  opened(session: Session, account: Account, credentialRef?: string): void {
    this.incarnation.set(session, { createdSeq: account.createdSeq, createdAt: account.createdAt });
    if (credentialRef !== undefined) this.credentialRefs.set(session, credentialRef);
  }

  /** The createdSeq of the account incarnation a session belongs to: records up to it are a predecessor's. */
  async createdSeqOf(session: Session): Promise<number> {
    return this.incarnation.get(session)?.createdSeq ?? (await this.ctx.directory.createdSeq(session.user)) ?? Number.MAX_SAFE_INTEGER;
  }

  /** The user's last session here closed: its credentials are checked afresh at the next login. */
  userGone(user: string): void {
    this.credentialMarks.delete(user);
  }

  /** The user's password changed here: its sessions' fingerprint is now `mark` (the others end). */
  passwordChanged(user: string, mark: string): void {
    if (this.ctx.sessions.isOnline(user)) this.credentialMarks.set(user, mark);
  }

  /**
   * Refuses a session whose authentication predates a password change (its fingerprint differs from the stored
   * credentials'). A change by another process that the data-version poll has not reported yet shows up here
   * too: the user's sessions opened against the old credentials end now.
   */
  async checkCredentials(user: string, acc: Account, authenticated: string | undefined): Promise<void> {
    const current = credentialsMark(acc.credentials);
    if (authenticated !== undefined && authenticated !== current) {
      throw new ParleyError('not-authorized', 'the password was changed since this login; log in again');
    }
    const known = this.credentialMarks.get(user);
    if (known !== undefined && known !== current) await this.endSessionsOf([user], 'the password was changed');
    this.credentialMarks.set(user, current);
  }

  /**
   * Ends every session of `users` but `keep` (a password change, accounts an administrator removed). Like
   * shutdown, it deregisters them at once instead of when each socket finishes closing, so nothing is routed to
   * them meanwhile. `everywhere`: the other nodes end theirs too (told on the bus; `keep` is a session id there).
   */
  async endSessionsOf(
    users: Iterable<string>,
    message: string,
    keep: Session | string | null = null,
    everywhere = false,
    code: EndCode = 'not-authorized',
    resource?: string,
  ): Promise<number> {
    const list = [...users];
    const keepId = typeof keep === 'string' ? keep : (keep?.id ?? null);
    if (everywhere) this.ctx.cluster.endEverywhere(list, keepId, message, { code, ...(resource === undefined ? {} : { resource }) });
    const ending = list.flatMap((u) => [...this.ctx.sessions.of(u)]).filter((s) => s.id !== keepId && (resource === undefined || s.resource === resource));
    for (const s of ending) s.sink.close(code, message);
    await Promise.all(ending.map((s) => this.hooks.close(s)));
    return ending.length;
  }

  /**
   * An administrator ends one session, `user`/`resource`, wherever it runs; false when there is none. The client
   * is told why (policy-violation, RFC 6120 §4.9.3.14 for XMPP; docs/protocol.md's close table for JSON).
   */
  async endResource(user: string, resource: string, message: string): Promise<boolean> {
    if (this.ctx.sessions.get(user, resource) !== undefined) {
      await this.endSessionsOf([user], message, null, false, 'policy-violation', resource);
      return true;
    }
    if (this.ctx.cluster.remoteSession(user, resource) === undefined) return false;
    this.ctx.cluster.endEverywhere([user], null, message, { code: 'policy-violation', resource });
    return true;
  }

  /**
   * Ends the sessions opened with a credential that was just revoked (CredentialVerifier's `ref`, e.g. an API key
   * revoked over HTTP), on this node and, through the cluster, every other; returns how many this node ended. A
   * credential revoked by another process without an engine (the CLI) stops opening sessions once the verifier
   * notices; the sessions it opened before run on until they close.
   */
  async endCredentialSessions(ref: string, message: string): Promise<number> {
    this.ctx.cluster.endCredentialEverywhere(ref, message);
    return this.endLocalCredentialSessions(ref, message);
  }

  /** Ends this node's sessions opened with credential `ref`. */
  async endLocalCredentialSessions(ref: string, message: string): Promise<number> {
    const ending = [...this.ctx.sessions.all()].filter((s) => this.credentialRefs.get(s) === ref);
    for (const s of ending) s.sink.close('not-authorized', message);
    await Promise.all(ending.map((s) => this.hooks.close(s)));
    return ending.length;
  }

  /**
   * After another process (the operator CLI) changed the database: ends the sessions of removed accounts (also
   * when the address was created again meanwhile: those sessions belong to the removed account, not to the new
   * one) and of accounts whose credentials changed (`parley user passwd`). One account read per online user,
   * and only when the data version moved: nothing per message.
   */
  async sweepAccounts(): Promise<void> {
    const { sessions } = this.ctx;
    for (const user of [...sessions.onlineUsers()]) {
      const now = await this.ctx.store.accounts.get(user);
      const stale = [...sessions.of(user)].filter((s) => {
        const was = this.incarnation.get(s);
        return !(now && was && was.createdSeq === now.createdSeq && was.createdAt === now.createdAt);
      });
      if (stale.length > 0) {
        // Deregistered here, so the connections' own cleanup (closeSession) finds them gone and does nothing.
        for (const s of stale) {
          s.closed = true;
          s.sink.close('not-authorized', 'the account was removed');
          if (sessions.remove(s)) {
            this.ctx.cluster.closed(s);
            this.ctx.metrics.sessions(-1);
            await this.ctx.events.emit('session.closed', { user: s.user, resource: s.resource, id: s.id, protocol: s.protocol });
          }
        }
        if (!sessions.isOnline(user)) {
          // Not recomputed: that would store the removed account's last-seen time and status on the account row,
          // which may be a new account's already.
          this.hooks.forget(user);
          this.credentialMarks.delete(user);
          continue;
        }
        await this.hooks.recompute(user);
      }
      // Disabled by another process (`parley user disable`).
      if (now?.disabled === true) {
        await this.endSessionsOf([user], 'the account was disabled', null, false, 'account-disabled');
        continue;
      }
      const known = this.credentialMarks.get(user);
      if (now && known !== undefined && known !== credentialsMark(now.credentials)) await this.endSessionsOf([user], 'the password was changed');
    }
  }
}
