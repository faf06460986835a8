/**
 * Per-user profile documents kept by the server for others to read: today the XEP-0054 vCard, stored as the
 * front door received it (serialised XML), so the engine need not understand its fields.
 */
import { ParleyError } from '../core/errors.js';
import type { Ctx } from './context.js';

/** The profile kind the vCard is stored under. */
const VCARD_KIND = 'vcard-temp';

/** Profiles (vCards) of local users. */
export class ProfileService {
  constructor(private readonly ctx: Ctx) {}

  /**
   * A user's stored vCard (serialised XML), or null when the user has none. Anyone may read it (XEP-0054 §3.2);
   * item-not-found when there is no such account, so a missing account and an empty vCard are told apart.
   */
  async vcard(user: string): Promise<string | null> {
    if (!(await this.ctx.directory.userExists(user))) throw new ParleyError('item-not-found', `no account ${user}`);
    return this.ctx.store.profiles.get(user, VCARD_KIND);
  }

  /** Replaces a user's own vCard (XEP-0054 §3.1); the front door checked that the user sets its own. */
  async setVcard(user: string, xml: string): Promise<void> {
    await this.ctx.store.profiles.put(user, VCARD_KIND, xml, this.ctx.now());
  }
}
