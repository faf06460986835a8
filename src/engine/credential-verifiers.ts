/**
 * The engine's seam for credentials other than passwords and session tokens. A module registers a verifier for
 * one kind of credential (the apikeys module: `apiKey`, a bot's API key); the front doors hand such a credential
 * to the engine (the JSON hello's `apiKey`, an HTTP bearer token), never to the module or the store, and the
 * engine asks the verifier which account it acts for, then checks that account itself.
 *
 * Such credentials open sessions for bot accounts only (docs/bots.md): a person logs in with a password (and
 * the session tokens and SASL exchanges it yields), so a leaked key can never stand in for a person.
 */
import { ParleyError } from '../core/errors.js';

/** What a verifier says about a credential it accepted. */
export interface VerifiedCredential {
  /** The bare address of the account the credential acts for. */
  user: string;
  /**
   * Names the credential among all others (the apikeys module: `apikey:<id>`): sessions opened with it are
   * ended when it is revoked (Engine.endCredentialSessions).
   */
  ref: string;
}

/** A pluggable check of one kind of credential. */
export interface CredentialVerifier {
  /** The kind it checks, e.g. `apiKey`: the name front doors use for it (the JSON hello's field). */
  readonly kind: string;
  /** Whether an HTTP bearer token is one of its credentials (rather than a session token). Cheap and pure. */
  recognises(token: string): boolean;
  /**
   * The account a credential acts for, or a ParleyError with a stable code: not-authorized (unknown, wrong or
   * revoked), forbidden (it does not allow logging in), rate-limited.
   */
  verify(credential: string): Promise<VerifiedCredential>;
}

/** The registered verifiers, by kind. */
export class CredentialVerifiers {
  private readonly byKind = new Map<string, CredentialVerifier>();

  /** Registers a verifier; a second one for the same kind is a start-up error. */
  register(v: CredentialVerifier): void {
    if (this.byKind.has(v.kind)) throw new ParleyError('conflict', `a credential verifier for ${v.kind} is already registered`);
    this.byKind.set(v.kind, v);
  }

  /** The verifier of a kind; not-authorized when none is registered (the module is off). */
  of(kind: string): CredentialVerifier {
    const v = this.byKind.get(kind);
    if (!v) throw new ParleyError('not-authorized', `${kind} credentials are not accepted here (the module that checks them is not enabled)`);
    return v;
  }

  /** The verifier that recognises a bearer token, or null (then it is a session token). */
  recognising(token: string): CredentialVerifier | null {
    for (const v of this.byKind.values()) if (v.recognises(token)) return v;
    return null;
  }
}
