/**
 * SCRAM (RFC 5802) with SHA-1 and SHA-256 (RFC 7677): credential derivation, password verification and the
 * server side of the SASL exchange. Everything CPU-heavy is asynchronous (pbkdf2, never pbkdf2Sync) so a login
 * storm cannot stall the event loop.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { ParleyError } from '../core/errors.js';
import type { Credentials, ScramCredential } from '../ports/store.js';

const pbkdf2Async = promisify(pbkdf2);

/** A SCRAM hash family Parley stores credentials for (RFC 5802 SCRAM-SHA-1, RFC 7677 SCRAM-SHA-256). */
export type ScramMechanism = keyof Credentials;

/** A SASL mechanism name as a client selects it; "-PLUS" means with channel binding (RFC 5802 §6). */
export type ScramMechanismName = ScramMechanism | `${ScramMechanism}-PLUS`;

/** The SCRAM mechanisms in server preference order (strongest first). */
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-1'];

/** RFC 7677 §4 / RFC 5802 §9: the iteration count SHOULD be at least 4096. */
export const MIN_SCRAM_ITERATIONS = 4096;

/** Default iteration count (matches the config default); also what unknown users are announced with. */
export const DEFAULT_SCRAM_ITERATIONS = 10_000;

/** Upper bound on iterations accepted anywhere, so corrupt data cannot make one login burn minutes of CPU. */
export const MAX_SCRAM_ITERATIONS = 10_000_000;

/** Salt length of newly derived credentials, in bytes (RFC 5802 §5.1 leaves it open; 16 is customary). */
export const SCRAM_SALT_BYTES = 16;

/** Longest accepted password, in UTF-16 code units after normalization. */
export const MAX_PASSWORD_LENGTH = 1024;

/** Longest accepted SCRAM message, in characters; real ones are well under 1 KiB. */
const MAX_MESSAGE_LENGTH = 4096;

interface HashSpec {
  algo: 'sha1' | 'sha256';
  /** Output length in bytes: Hi() produces exactly one PBKDF2 block of this size (RFC 5802 §2.2). */
  len: number;
}

const HASH: Record<ScramMechanism, HashSpec> = {
  'SCRAM-SHA-1': { algo: 'sha1', len: 20 },
  'SCRAM-SHA-256': { algo: 'sha256', len: 32 },
};

/**
 * RFC 5802 §7 server-error-value: carried in ParleyError details as `scramError` so a SASL front door can send
 * `e=<value>` in the server-final-message if it wants to.
 */
export type ScramServerError =
  | 'invalid-encoding'
  | 'extensions-not-supported'
  | 'invalid-proof'
  | 'channel-bindings-dont-match'
  | 'server-does-support-channel-binding'
  | 'channel-binding-not-supported'
  | 'unsupported-channel-binding-type'
  | 'invalid-username-encoding'
  | 'other-error';

// ---------------------------------------------------------------------------------------------------------------
// Password normalization
// ---------------------------------------------------------------------------------------------------------------

/** Unicode Zs (space separators) other than U+0020: RFC 8265 §4.2.1 additional mapping rule. */
const NON_ASCII_SPACE = /(?!\u0020)\p{Zs}/gu;
const CONTROL = /\p{Cc}/u;
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Normalize(str) of RFC 5802 §2.2, approximated by the PRECIS OpaqueString profile (RFC 8265 §4.2, which
 * obsoletes SASLprep for passwords): non-ASCII spaces become U+0020, then Unicode NFC. Throws ParleyError
 * bad-request for empty passwords, control characters, unpaired surrogates and passwords over the length limit.
 */
export function normalizePassword(password: string): string {
  if (typeof password !== 'string') throw new ParleyError('bad-request', 'password must be a string');
  const mapped = password.replace(NON_ASCII_SPACE, ' ').normalize('NFC');
  if (mapped.length === 0) throw new ParleyError('bad-request', 'password must not be empty');
  if (CONTROL.test(mapped)) throw new ParleyError('bad-request', 'password must not contain control characters');
  if (LONE_SURROGATE.test(mapped)) throw new ParleyError('bad-request', 'password is not valid Unicode');
  if (mapped.length > MAX_PASSWORD_LENGTH) {
    throw new ParleyError('bad-request', `password is too long (at most ${MAX_PASSWORD_LENGTH} characters)`);
  }
  return mapped;
}

// ---------------------------------------------------------------------------------------------------------------
// Key derivation (RFC 5802 §3)
// ---------------------------------------------------------------------------------------------------------------

function hmac(mech: ScramMechanism, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(HASH[mech].algo, key).update(data).digest();
}

function hash(mech: ScramMechanism, data: Buffer): Buffer {
  return createHash(HASH[mech].algo).update(data).digest();
}

/** Hi(Normalize(password), salt, i) of RFC 5802 §2.2: PBKDF2 with HMAC-H, one block of H's output size. */
function saltedPassword(mech: ScramMechanism, normalized: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return pbkdf2Async(Buffer.from(normalized, 'utf8'), salt, iterations, HASH[mech].len, HASH[mech].algo);
}

/** ClientKey, StoredKey and ServerKey from SaltedPassword (RFC 5802 §3). */
function keys(mech: ScramMechanism, salted: Buffer): { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(mech, salted, 'Client Key');
  return { clientKey, storedKey: hash(mech, clientKey), serverKey: hmac(mech, salted, 'Server Key') };
}

function checkIterations(iterations: number, min: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < min || iterations > MAX_SCRAM_ITERATIONS) {
    throw new ParleyError(
      'bad-request',
      `iterations must be an integer from ${min} to ${MAX_SCRAM_ITERATIONS}, got ${String(iterations)}`,
    );
  }
}

/** Derives one mechanism's stored credential (RFC 5802 §3); a fresh random salt unless one is given (import, tests). */
export async function deriveScramCredential(
  password: string,
  mech: ScramMechanism,
  iterations: number,
  salt: Buffer = randomBytes(SCRAM_SALT_BYTES),
): Promise<ScramCredential> {
  checkIterations(iterations, MIN_SCRAM_ITERATIONS);
  if (salt.length === 0) throw new ParleyError('bad-request', 'salt must not be empty');
  const { storedKey, serverKey } = keys(mech, await saltedPassword(mech, normalizePassword(password), salt, iterations));
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: storedKey.toString('base64'),
    serverKey: serverKey.toString('base64'),
  };
}

/** Derives SCRAM-SHA-1 and SCRAM-SHA-256 credentials, each with its own random 16-byte salt (RFC 5802 §3, RFC 7677). */
export async function deriveCredentials(password: string, iterations: number): Promise<Credentials> {
  normalizePassword(password); // fail fast, before spending CPU
  checkIterations(iterations, MIN_SCRAM_ITERATIONS);
  const [sha1, sha256] = await Promise.all([
    deriveScramCredential(password, 'SCRAM-SHA-1', iterations),
    deriveScramCredential(password, 'SCRAM-SHA-256', iterations),
  ]);
  return { 'SCRAM-SHA-1': sha1, 'SCRAM-SHA-256': sha256 };
}

/** Strict base64 (RFC 4648 §4, padded, canonical); null when `s` is not exactly that. */
function decodeBase64(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const buf = Buffer.from(s, 'base64');
  return buf.toString('base64') === s ? buf : null;
}

interface DecodedCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** Decodes a stored credential; a corrupt one is a server fault, never the client's. */
function decodeCredential(mech: ScramMechanism, cred: ScramCredential): DecodedCredential {
  const salt = decodeBase64(cred.salt);
  const storedKey = decodeBase64(cred.storedKey);
  const serverKey = decodeBase64(cred.serverKey);
  const len = HASH[mech].len;
  if (
    salt === null ||
    salt.length === 0 ||
    storedKey?.length !== len ||
    serverKey?.length !== len ||
    !Number.isSafeInteger(cred.iterations) ||
    cred.iterations < 1 ||
    cred.iterations > MAX_SCRAM_ITERATIONS
  ) {
    throw new ParleyError('internal-server-error', `stored ${mech} credential is corrupt`);
  }
  return { salt, iterations: cred.iterations, storedKey, serverKey };
}

/** Recomputes StoredKey from `password` (RFC 5802 §3) and compares it in constant time; false for invalid passwords. */
export async function verifyPassword(password: string, cred: ScramCredential, mech: ScramMechanism): Promise<boolean> {
  let normalized: string;
  try {
    normalized = normalizePassword(password);
  } catch {
    return false; // such a password can never have been stored
  }
  const stored = decodeCredential(mech, cred);
  const { storedKey } = keys(mech, await saltedPassword(mech, normalized, stored.salt, stored.iterations));
  return timingSafeEqual(storedKey, stored.storedKey);
}

// ---------------------------------------------------------------------------------------------------------------
// Message parsing (RFC 5802 §7 grammar)
// ---------------------------------------------------------------------------------------------------------------

function malformed(what: string, scramError: ScramServerError = 'invalid-encoding'): ParleyError {
  return new ParleyError('bad-request', `SCRAM: ${what}`, { scramError });
}

function refused(scramError: ScramServerError, message?: string): ParleyError {
  return new ParleyError('not-authorized', message, { scramError });
}

/** printable = %x21-2B / %x2D-7E (RFC 5802 §7): the nonce alphabet, no comma. */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
/** cb-name = 1*(ALPHA / DIGIT / "." / "-") (RFC 5802 §7). */
const CB_NAME = /^[A-Za-z0-9.-]+$/;
/** attr-val = ALPHA "=" value (RFC 5802 §7), for optional extensions. */
const ATTR_VAL = /^[A-Za-z]=/;

/**
 * Decodes a saslname (RFC 5802 §5.1): "=2C" is ",", "=3D" is "=" (ABNF literals are case-insensitive,
 * RFC 5234 §2.3); any other "=" and NUL are invalid.
 */
export function decodeSaslname(s: string): string {
  if (s.length === 0) throw malformed('empty saslname', 'invalid-username-encoding');
  if (s.includes('\0')) throw malformed('NUL in saslname', 'invalid-username-encoding');
  return s.replace(/=(..)?/g, (_m, code: string | undefined) => {
    const c = code?.toUpperCase();
    if (c === '2C') return ',';
    if (c === '3D') return '=';
    throw malformed('bad "=" escape in saslname', 'invalid-username-encoding');
  });
}

/** Encodes a saslname (RFC 5802 §5.1): "=" becomes "=3D" and "," becomes "=2C". */
export function encodeSaslname(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

type CbindFlag = { kind: 'n' } | { kind: 'y' } | { kind: 'p'; name: string };

interface ClientFirst {
  cbind: CbindFlag;
  authzid: string | null;
  /** The gs2-header verbatim, with its trailing comma (what c= must echo, RFC 5802 §7). */
  gs2Header: string;
  /** client-first-message-bare, part of AuthMessage (RFC 5802 §3). */
  bare: string;
  username: string;
  clientNonce: string;
}

function checkMessage(msg: string, which: string): void {
  if (typeof msg !== 'string' || msg.length === 0) throw malformed(`empty ${which}`);
  if (msg.length > MAX_MESSAGE_LENGTH) throw malformed(`${which} too long`);
  if (msg.includes('\0')) throw malformed(`NUL in ${which}`);
}

/** client-first-message = gs2-header client-first-message-bare (RFC 5802 §7). */
function parseClientFirst(msg: string): ClientFirst {
  checkMessage(msg, 'client-first-message');
  const c1 = msg.indexOf(',');
  const c2 = c1 < 0 ? -1 : msg.indexOf(',', c1 + 1);
  if (c2 < 0) throw malformed('missing gs2-header');
  const flag = msg.slice(0, c1);
  let cbind: CbindFlag;
  if (flag === 'n' || flag === 'y') cbind = { kind: flag };
  else if (flag.startsWith('p=') && CB_NAME.test(flag.slice(2))) cbind = { kind: 'p', name: flag.slice(2) };
  else throw malformed('bad gs2-cbind-flag');
  const authzPart = msg.slice(c1 + 1, c2);
  let authzid: string | null = null;
  if (authzPart.startsWith('a=')) authzid = decodeSaslname(authzPart.slice(2));
  else if (authzPart !== '') throw malformed('bad authzid');

  const bare = msg.slice(c2 + 1);
  const parts = bare.split(',');
  // RFC 5802 §5.1 "m": reserved for a mandatory extension; the server MUST fail authentication when present.
  if (parts[0]?.startsWith('m=')) throw malformed('mandatory extension not supported', 'extensions-not-supported');
  const [userPart, noncePart, ...extensions] = parts;
  if (userPart === undefined || !userPart.startsWith('n=')) throw malformed('missing username');
  const username = decodeSaslname(userPart.slice(2));
  if (noncePart === undefined || !noncePart.startsWith('r=')) throw malformed('missing nonce');
  const clientNonce = noncePart.slice(2);
  if (!PRINTABLE.test(clientNonce)) throw malformed('bad client nonce');
  for (const ext of extensions) if (!ATTR_VAL.test(ext)) throw malformed('bad extension');
  return { cbind, authzid, gs2Header: msg.slice(0, c2 + 1), bare, username, clientNonce };
}

interface ClientFinal {
  channelBinding: Buffer;
  nonce: string;
  /** client-final-message-without-proof, part of AuthMessage (RFC 5802 §3). */
  withoutProof: string;
  proof: Buffer;
}

/** client-final-message = channel-binding "," nonce ["," extensions] "," proof (RFC 5802 §7). */
function parseClientFinal(msg: string): ClientFinal {
  checkMessage(msg, 'client-final-message');
  const lastComma = msg.lastIndexOf(',');
  if (lastComma < 0) throw malformed('missing proof');
  const withoutProof = msg.slice(0, lastComma);
  const proofPart = msg.slice(lastComma + 1);
  if (!proofPart.startsWith('p=')) throw malformed('missing proof');
  const proof = decodeBase64(proofPart.slice(2));
  if (proof === null || proof.length === 0) throw malformed('bad proof encoding');
  const [cbPart, noncePart, ...extensions] = withoutProof.split(',');
  if (cbPart === undefined || !cbPart.startsWith('c=')) throw malformed('missing channel binding');
  const channelBinding = decodeBase64(cbPart.slice(2));
  if (channelBinding === null || channelBinding.length === 0) throw malformed('bad channel binding encoding');
  if (noncePart === undefined || !noncePart.startsWith('r=')) throw malformed('missing nonce');
  const nonce = noncePart.slice(2);
  if (!PRINTABLE.test(nonce)) throw malformed('bad nonce');
  for (const ext of extensions) if (!ATTR_VAL.test(ext)) throw malformed('bad extension');
  return { channelBinding, nonce, withoutProof, proof };
}

// ---------------------------------------------------------------------------------------------------------------
// Server exchange
// ---------------------------------------------------------------------------------------------------------------

/** Channel binding for -PLUS mechanisms (RFC 5802 §6), injected by the transport that owns the TLS session. */
export interface ChannelBindingSupport {
  /** True when this connection advertised -PLUS mechanisms: a client "y" flag then signals a downgrade (RFC 5802 §6). */
  readonly advertised: boolean;
  /** The channel-binding data of type `cbName` (e.g. "tls-exporter", RFC 9266) for this connection, or null if unsupported. */
  data(cbName: string): Buffer | null | Promise<Buffer | null>;
}

/** Looks up a user's stored credential for one mechanism; null when the user does not exist. */
export type ScramCredentialLookup = (username: string, mech: ScramMechanism) => Promise<ScramCredential | null>;

/** Options of a server-side SCRAM exchange. */
export interface ScramServerOptions {
  /** Channel binding support of this connection; without it "p=" is refused (RFC 5802 §6). */
  channelBinding?: ChannelBindingSupport;
  /**
   * Server secret for the fake credentials of unknown users. Pass a persistent one: with the per-process default,
   * an unknown user's fake salt changes across restarts, which a patient attacker can notice.
   */
  secret?: Buffer;
  /** Iteration count announced for unknown users; set it to the deployment's configured count. */
  fakeIterations?: number;
  /**
   * The account a SCRAM username names (normalised), for an unknown user's fake credential: spellings of one
   * name that reach one real account ("Bob", "bob") must get one fake salt too, or comparing them would tell
   * whether the account exists.
   */
  canonicalUser?: (username: string) => string;
  /** Server nonce part (printable, no comma); random 18 bytes base64 unless given (tests only). */
  serverNonce?: string;
}

/** Who authenticated: the SCRAM username and the requested authorization identity, if any (RFC 5802 §5.1 "a"). */
export interface ScramAuthResult {
  username: string;
  authzid: string | null;
}

/** Fallback for callers without a persistent secret (tests); the server passes one from its database. */
const PROCESS_SECRET = randomBytes(32);

interface Pending {
  first: ClientFirst;
  serverFirst: string;
  nonce: string;
  cbData: Buffer | null;
  cred: DecodedCredential;
  known: boolean;
}

/**
 * A fake but stable credential for an unknown user, so its server-first looks like a real one (RFC 5802 §9):
 * a salt as long as a real one (SCRAM_SALT_BYTES), the same for every exchange as long as the secret stays.
 */
function fakeCredential(mech: ScramMechanism, username: string, secret: Buffer, iterations: number): DecodedCredential {
  const derive = (label: string, len: number): Buffer =>
    createHmac('sha256', secret).update(`parley-scram-fake\0${label}\0${mech}\0${username}`).digest().subarray(0, len);
  return {
    salt: derive('salt', SCRAM_SALT_BYTES),
    iterations,
    storedKey: derive('stored-key', HASH[mech].len),
    serverKey: derive('server-key', HASH[mech].len),
  };
}

/**
 * The server side of one SCRAM exchange (RFC 5802 §5): `start` answers the client-first-message, `finish` checks
 * the client proof and returns the server-final-message. Failures throw ParleyError bad-request (malformed) or
 * not-authorized (refused), with `details.scramError` set to the RFC 5802 §7 server-error-value. Unknown users
 * get a deterministic fake credential, so their exchange looks and costs the same as a wrong password.
 */
export class ScramServer {
  readonly mechanism: ScramMechanismName;
  private readonly hashMech: ScramMechanism;
  private readonly plus: boolean;
  private readonly lookup: ScramCredentialLookup;
  private readonly opts: ScramServerOptions;
  private state: 'initial' | 'started' | 'done' | 'failed' = 'initial';
  private pending: Pending | null = null;
  private outcome: ScramAuthResult | null = null;

  constructor(mech: ScramMechanismName, lookup: ScramCredentialLookup, opts: ScramServerOptions = {}) {
    this.plus = mech.endsWith('-PLUS');
    const hashMech = (this.plus ? mech.slice(0, -'-PLUS'.length) : mech) as ScramMechanism;
    if (!Object.hasOwn(HASH, hashMech)) throw new ParleyError('bad-request', `unknown SCRAM mechanism ${String(mech)}`);
    if (opts.serverNonce !== undefined && !PRINTABLE.test(opts.serverNonce)) {
      throw new ParleyError('bad-request', 'server nonce must be printable ASCII without commas');
    }
    if (opts.fakeIterations !== undefined) checkIterations(opts.fakeIterations, 1);
    this.mechanism = mech;
    this.hashMech = hashMech;
    this.lookup = lookup;
    this.opts = opts;
  }

  /** The authenticated identity after a successful `finish`, else null. */
  get result(): ScramAuthResult | null {
    return this.outcome;
  }

  /** Handles the client-first-message and returns the server-first-message "r=…,s=…,i=…" (RFC 5802 §5.1). */
  async start(clientFirst: string): Promise<string> {
    if (this.state !== 'initial') throw new ParleyError('unexpected-request', 'SCRAM exchange already started');
    this.state = 'failed'; // until proven otherwise
    const first = parseClientFirst(clientFirst);
    const cbData = await this.checkCbindFlag(first.cbind);

    const stored = await this.lookup(first.username, this.hashMech);
    const known = stored !== null;
    const cred = known
      ? decodeCredential(this.hashMech, stored)
      : fakeCredential(
          this.hashMech,
          this.opts.canonicalUser?.(first.username) ?? first.username,
          this.opts.secret ?? PROCESS_SECRET,
          this.opts.fakeIterations ?? DEFAULT_SCRAM_ITERATIONS,
        );
    const nonce = first.clientNonce + (this.opts.serverNonce ?? randomBytes(18).toString('base64'));
    const serverFirst = `r=${nonce},s=${cred.salt.toString('base64')},i=${cred.iterations}`;
    this.pending = { first, serverFirst, nonce, cbData, cred, known };
    this.state = 'started';
    return serverFirst;
  }

  /** Verifies the client-final-message's proof and returns the server-final-message "v=…" (RFC 5802 §3, §5.1). */
  finish(clientFinal: string): string {
    const p = this.pending;
    if (this.state !== 'started' || p === null) {
      throw new ParleyError('unexpected-request', 'SCRAM exchange not awaiting a client-final-message');
    }
    this.state = 'failed';
    this.pending = null;
    const final = parseClientFinal(clientFinal);

    // RFC 5802 §5.1 "c": base64 of the gs2-header, followed by the channel-binding data when the flag was "p".
    const expectedCb = Buffer.concat([Buffer.from(p.first.gs2Header, 'utf8'), p.cbData ?? Buffer.alloc(0)]);
    if (!final.channelBinding.equals(expectedCb)) throw refused('channel-bindings-dont-match');
    // RFC 5802 §5.1 "r": the client must echo exactly the combined nonce (its own prefix plus ours).
    if (final.nonce !== p.nonce) throw refused('other-error');

    // RFC 5802 §3: AuthMessage; ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); check H(ClientKey).
    const authMessage = `${p.first.bare},${p.serverFirst},${final.withoutProof}`;
    const mech = this.hashMech;
    const signature = hmac(mech, p.cred.storedKey, authMessage);
    const proof = final.proof.length === signature.length ? final.proof : Buffer.alloc(signature.length);
    const clientKey = Buffer.alloc(signature.length);
    for (let i = 0; i < signature.length; i++) clientKey[i] = (proof[i] ?? 0) ^ (signature[i] ?? 0);
    const matches = timingSafeEqual(hash(mech, clientKey), p.cred.storedKey);
    if (!matches || !p.known || final.proof.length !== signature.length) throw refused('invalid-proof');

    this.state = 'done';
    this.outcome = { username: p.first.username, authzid: p.first.authzid };
    return `v=${hmac(mech, p.cred.serverKey, authMessage).toString('base64')}`;
  }

  /** RFC 5802 §6: which gs2-cbind-flag is acceptable for this mechanism and connection; returns cbind-data for "p". */
  private async checkCbindFlag(cbind: CbindFlag): Promise<Buffer | null> {
    const support = this.opts.channelBinding;
    if (cbind.kind === 'p') {
      if (!this.plus || support === undefined) {
        throw refused('channel-binding-not-supported', 'Channel binding is not supported here');
      }
      const data = await support.data(cbind.name);
      if (data === null) {
        throw refused('unsupported-channel-binding-type', `Channel binding type ${cbind.name} is not supported`);
      }
      return data;
    }
    if (this.plus) throw refused('other-error', `${this.mechanism} requires channel binding`);
    if (cbind.kind === 'y' && support?.advertised === true) {
      // The client thinks we lack channel binding although we offered it: a downgrade.
      throw refused('server-does-support-channel-binding');
    }
    return null;
  }
}

/** Creates the server side of one SCRAM exchange (see ScramServer). */
export function createScramServer(
  mech: ScramMechanismName,
  lookup: ScramCredentialLookup,
  opts: ScramServerOptions = {},
): ScramServer {
  return new ScramServer(mech, lookup, opts);
}
