/**
 * The file service behind every front door: slots (XEP-0363 §4 checks: size, quota, name), uploads streamed to a
 * temporary file and to clamd at once and stored only when clamd said clean, downloads of stored files, and the
 * sweep of expired files and unused slots. Stored files and refusals are the module's changes through the
 * engine's change gate (api.change), so the compliance archive journals them when it is on.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { ParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import type { ModuleApi } from '../api.js';
import type { InstreamScan, Verdict } from './clamd.js';
import type { FilesOptions } from './options.js';
import type { Scanner } from './scanner.js';
import { DAY_MS, type FileRecord, type FilesArea, type Quota } from './sqlite.js';

/** What a client asks a slot for. */
export interface SlotRequest {
  filename: string;
  size: number;
  /** Omitted: application/octet-stream. */
  contentType?: string | null | undefined;
}

/** A slot as every front door hands it out (XEP-0363 §5). */
export interface Slot {
  put: { url: string; headers: Record<string, string> };
  get: { url: string };
  /** The PUT must come before this (ISO 8601). */
  expiresAt: string;
  size: number;
  contentType: string;
}

/** A stored file as the PUT reports it. */
export interface StoredFile {
  url: string;
  sha256: string;
  size: number;
  contentType: string;
}

/** The random path segment of a slot's URLs: 256 bits, base64url (43 characters). */
export const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** RFC 9110 §5.6.2 token characters. */
const TCHAR = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** RFC 9110 §8.3.1 media type with optional parameters (token or quoted-string values). */
const MEDIA_TYPE = new RegExp(`^${TCHAR}/${TCHAR}(\\s*;\\s*${TCHAR}=(${TCHAR}|"[^"\\\\\\x00-\\x1f\\x7f]*"))*$`);

/** The file name of a slot: what the URL and Content-Disposition carry; refuses what could name another path. */
export function checkFilename(name: string): string {
  const bytes = Buffer.byteLength(name, 'utf8');
  // Bidirectional overrides and isolates (Unicode TR 9) could show "gpj.exe" as "exe.jpg" in a download dialog.
  if (bytes === 0 || bytes > 255 || /[/\\\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(name) || name === '.' || name === '..' || name.trim() !== name) {
    throw new ParleyError('bad-request', 'filename: 1 to 255 bytes, no slash, backslash, control or bidirectional-override character, no leading or trailing space');
  }
  return name.normalize('NFC');
}

/** A content type compared case-insensitively in its type, subtype and parameter names (RFC 9110 §8.3.1). */
export function mediaKey(ct: string): string {
  return ct
    .split(';')
    .map((p, i) => {
      const s = p.trim();
      if (i === 0) return s.toLowerCase();
      const eq = s.indexOf('=');
      return `${s.slice(0, eq).trim().toLowerCase()}=${s.slice(eq + 1).trim()}`;
    })
    .join(';');
}

/** The service. */
export class FilesService {
  /** Slots with a PUT in progress: a second PUT to one of them is refused at once. */
  private readonly uploading = new Set<string>();
  private readonly incoming: string;

  /** `currentOptions` is asked per use: the limits are live options an administrator may change (docs/settings.md). */
  constructor(
    private readonly area: FilesArea,
    private readonly currentOptions: () => FilesOptions,
    private readonly scanner: Scanner,
    private readonly api: Pick<ModuleApi<FilesOptions>, 'change' | 'httpUrl'>,
    private readonly log: Logger,
  ) {
    this.incoming = join(currentOptions().directory, '.incoming');
  }

  private get options(): FilesOptions {
    return this.currentOptions();
  }

  private get quota(): Quota {
    return { perUserDailyBytes: this.options.perUserDailyBytes, totalBytes: this.options.totalBytes };
  }

  /**
   * Creates the directories and removes what a previous run left unfinished: uploads in progress, and files moved
   * into place whose record was never written (a stop between the rename and the commit).
   */
  async prepare(): Promise<void> {
    await mkdir(this.incoming, { recursive: true, mode: 0o700 });
    for (const f of await readdir(this.incoming)) await rm(join(this.incoming, f), { force: true });
    const named = (await readdir(this.options.directory)).filter((f) => TOKEN.test(f));
    for (let i = 0; i < named.length; i += 500) {
      const batch = named.slice(i, i + 500);
      const kept = new Set(await this.area.stored(batch));
      for (const f of batch) if (!kept.has(f)) await rm(join(this.options.directory, f), { force: true });
    }
  }

  /** The URL of a slot's PUT and GET. */
  urlOf(r: Pick<FileRecord, 'token' | 'filename'>): string {
    const base = (this.options.publicUrl ?? this.api.httpUrl() ?? '').replace(/\/+$/, '');
    if (base === '') throw new ParleyError('service-unavailable', 'the HTTP listener is not up yet');
    // A listener on every address has no address a client could use: links to it would never work.
    if (this.options.publicUrl === null && /^https?:\/\/(0\.0\.0\.0|\[::\])(:|\/|$)/.test(base)) {
      throw new ParleyError('service-unavailable', 'the HTTP listener binds every address, so file links need modules.files.publicUrl (the URL clients reach it at)');
    }
    return `${base}/api/v1/files/${r.token}/${encodeURIComponent(r.filename)}`;
  }

  /**
   * A slot for `owner` (XEP-0363 §4): file-too-large with the limit (§4.2), quota-exceeded with when to retry
   * (§4.3), bad-request for a bad name or content type.
   */
  async slot(owner: string, req: SlotRequest, now = Date.now()): Promise<Slot> {
    const filename = checkFilename(req.filename);
    if (!Number.isSafeInteger(req.size) || req.size < 0) throw new ParleyError('bad-request', 'size: the file size in bytes');
    if (req.size > this.options.maxFileBytes) {
      throw new ParleyError('file-too-large', `the file is ${req.size} bytes; the limit is ${this.options.maxFileBytes}`, { maxFileSize: this.options.maxFileBytes });
    }
    const contentType = req.contentType ?? 'application/octet-stream';
    if (contentType.length > 255 || !MEDIA_TYPE.test(contentType)) throw new ParleyError('bad-request', 'content-type: a media type such as image/png');
    const r: FileRecord = {
      token: randomBytes(32).toString('base64url'),
      owner,
      filename,
      size: req.size,
      contentType,
      state: 'open',
      createdAt: now,
      slotExpiresAt: now + this.options.slotSeconds * 1000,
      storedAt: null,
      sha256: null,
      signature: null,
    };
    await this.area.reserve(r, this.quota, now);
    const url = this.urlOf(r);
    // §5: no extra headers are needed: the slot's path is the upload's only credential.
    return { put: { url, headers: {} }, get: { url }, expiresAt: new Date(r.slotExpiresAt).toISOString(), size: r.size, contentType };
  }

  /**
   * Receives a slot's PUT (XEP-0363 §6): the declared length and content type must be the slot's, once, in time.
   * The body goes to a temporary file and to clamd as it arrives, with its SHA-256; only a clean verdict moves it
   * into place. Infected: file-infected with the signature (journaled). Not scanned (clamd down, slow, over a
   * limit): service-unavailable, nothing stored.
   */
  async receive(token: string, name: string, head: { contentLength: string | undefined; contentType: string | undefined }, body: AsyncIterable<Buffer>): Promise<StoredFile> {
    const now = Date.now();
    const r = TOKEN.test(token) ? await this.area.get(token) : null;
    if (r === null || r.filename !== name) throw new ParleyError('item-not-found', 'no such upload slot');
    if (r.state !== 'open') throw new ParleyError('conflict', 'the slot was already used');
    if (r.slotExpiresAt <= now) throw new ParleyError('forbidden', `the slot expired at ${new Date(r.slotExpiresAt).toISOString()}; request a new one`);
    if (head.contentLength === undefined || !/^\d+$/.test(head.contentLength)) throw new ParleyError('bad-request', 'the PUT needs a Content-Length (XEP-0363 §6)');
    if (Number(head.contentLength) !== r.size) throw new ParleyError('bad-request', `Content-Length ${head.contentLength} is not the slot's size ${r.size}`);
    if (mediaKey(head.contentType ?? 'application/octet-stream') !== mediaKey(r.contentType)) {
      throw new ParleyError('bad-request', `Content-Type ${head.contentType ?? '(none)'} is not the slot's ${r.contentType}`);
    }
    if (this.uploading.has(token)) throw new ParleyError('conflict', 'an upload to this slot is in progress');
    this.uploading.add(token);
    try {
      return await this.upload(r, body);
    } finally {
      this.uploading.delete(token);
    }
  }

  private async upload(r: FileRecord, body: AsyncIterable<Buffer>): Promise<StoredFile> {
    let scan: InstreamScan | null = null;
    if (this.scanner.enabled) {
      const opened = await this.scanner.open();
      if ('failed' in opened) this.unscanned(r, opened.failed);
      else scan = opened;
    }
    const tmp = join(this.incoming, `${r.token}.${randomBytes(6).toString('hex')}`);
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    // A disk that is full or failing must refuse the upload, never crash the server (an unheard 'error' would).
    let diskError: Error | null = null;
    out.on('error', (e) => {
      diskError = e;
    });
    const disk = (): ParleyError => new ParleyError('service-unavailable', `the file could not be written: ${diskError?.message ?? 'unknown error'}`, { reason: 'storage' });
    const hash = createHash('sha256');
    try {
      let n = 0;
      try {
        for await (const chunk of body) {
          n += chunk.length;
          if (n > r.size) throw new ParleyError('bad-request', `the body is longer than the slot's size ${r.size}`);
          hash.update(chunk);
          if (diskError !== null) throw disk();
          if (!out.write(chunk)) await once(out, 'drain');
          if (scan !== null) await scan.write(chunk);
        }
      } catch (e) {
        if (e instanceof ParleyError) throw e;
        if (diskError !== null) throw disk();
        throw new ParleyError('bad-request', `the upload was interrupted: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (n !== r.size) throw new ParleyError('bad-request', `the body has ${n} bytes; the slot is for ${r.size}`);
      if (diskError !== null) throw disk();
      await closeFile(out).catch(() => {
        throw disk();
      });
      const sha256 = hash.digest('hex');
      const scanned = scan !== null;
      const verdict: Verdict = scan === null ? { kind: 'clean' } : await scan.finish();
      scan = null;
      this.scanner.ended(verdict);
      if (verdict.kind === 'infected') await this.refuse(r, verdict.signature, sha256);
      if (verdict.kind === 'failed') this.unscanned(r, verdict.reason);
      const path = join(this.options.directory, r.token);
      await rename(tmp, path);
      const data = { name: r.filename, size: r.size, contentType: r.contentType, sha256, scanned: scanned && verdict.kind === 'clean' };
      try {
        await this.api.change('stored', { actor: r.owner, subject: r.token, secretSubject: true, data }, () => this.area.store(r.token, sha256, this.quota, Date.now()));
      } catch (e) {
        await rm(path, { force: true });
        throw e;
      }
      this.log.info({ owner: r.owner, token: r.token, size: r.size, sha256 }, 'file stored');
      return { url: this.urlOf(r), sha256, size: r.size, contentType: r.contentType };
    } finally {
      scan?.abort();
      out.destroy();
      await rm(tmp, { force: true });
    }
  }

  /** Fails closed when clamd is required; otherwise lets the file through unscanned, loudly. */
  private unscanned(r: FileRecord, reason: string): void {
    if (this.options.clamd.required) {
      this.log.warn({ owner: r.owner, token: r.token, reason }, 'upload refused: not scanned');
      throw new ParleyError('service-unavailable', `the file was not stored: the malware scan did not complete (${reason})`, { reason: 'scanner' });
    }
    this.log.warn({ owner: r.owner, token: r.token, reason }, 'upload stored WITHOUT a malware scan (modules.files.clamd.required is false)');
  }

  /** Records and journals a refusal for malware, then throws file-infected. */
  private async refuse(r: FileRecord, signature: string, sha256: string): Promise<never> {
    this.log.warn({ owner: r.owner, token: r.token, signature, sha256, name: r.filename }, 'upload refused: malware found');
    const data = { name: r.filename, size: r.size, contentType: r.contentType, sha256, signature };
    await this.api.change('refused', { actor: r.owner, subject: r.token, secretSubject: true, data }, () => this.area.refuse(r.token, signature, sha256, Date.now()));
    throw new ParleyError('file-infected', `the malware scanner found ${signature} in the file; it was not stored`, { signature });
  }

  /** A stored, unexpired file and its path; item-not-found otherwise. */
  async download(token: string, name: string, now = Date.now()): Promise<{ file: FileRecord; path: string; size: number }> {
    const r = TOKEN.test(token) ? await this.area.get(token) : null;
    if (r === null || r.state !== 'stored' || r.filename !== name || this.isExpired(r, now)) throw new ParleyError('item-not-found', 'no such file');
    const path = join(this.options.directory, r.token);
    const s = await stat(path).catch(() => null);
    if (s === null) throw new ParleyError('item-not-found', 'no such file');
    return { file: r, path, size: s.size };
  }

  private isExpired(r: FileRecord, now: number): boolean {
    return this.options.expiryDays > 0 && r.storedAt !== null && r.storedAt + this.options.expiryDays * DAY_MS <= now;
  }

  /** Removes files past the expiry policy (journaled as `files.expired`) and forgets unused slots; returns how many files. */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    if (this.options.expiryDays > 0) {
      for (;;) {
        const batch = await this.area.expired(now - this.options.expiryDays * DAY_MS, 200);
        for (const r of batch) {
          await this.api.change('expired', { actor: null, subject: r.token, secretSubject: true, data: { name: r.filename, size: r.size, sha256: r.sha256, owner: r.owner } }, () => this.area.remove([r.token]));
          await rm(join(this.options.directory, r.token), { force: true });
          removed++;
        }
        if (batch.length < 200) break;
      }
    }
    // Refusals are kept as long as files would be (30 days when files are kept), then forgotten.
    await this.area.purge(now, now - (this.options.expiryDays || 30) * DAY_MS);
    return removed;
  }
}

/** Ends a write stream and waits until its data is flushed to the file. */
async function closeFile(out: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
}
