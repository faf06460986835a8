/**
 * Per-user profile documents kept by the server for others to read: today the XEP-0054 vCard, stored as the
 * front door received it (serialised XML), so the engine need not understand its fields.
 */
import { ParleyError } from '../core/errors.js';
import type { Ctx } from './context.js';
import type { ProfileCheck } from './events.js';

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

  /**
   * Replaces a user's own vCard (XEP-0054 §3.1); the front door checked that the user sets its own. `names` are
   * the vCard's FN and NICKNAME when the person set it (they pass the profile.check gate first); a vCard written
   * on the person's behalf (an avatar converted from PEP, XEP-0398) passes none and is not checked again.
   */
  async setVcard(user: string, xml: string, names?: string[]): Promise<void> {
    if (names !== undefined) await this.checkNames(user, 'vcard', names);
    await this.ctx.store.profiles.put(user, VCARD_KIND, xml, this.ctx.now());
  }

  /** Runs the profile.check gate over the names a user is about to show others (a refusal throws). */
  async checkNames(user: string, source: ProfileCheck['source'], names: readonly string[]): Promise<void> {
    const shown = names.map((n) => n.trim()).filter((n) => n !== '');
    if (shown.length > 0) await this.ctx.events.emit('profile.check', { user, source, names: shown });
  }
}
