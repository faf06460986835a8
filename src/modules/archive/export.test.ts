/**
 * eDiscovery export bundles: the manifest exactly as specified, a bundle the standalone verifier accepts (run
 * as a child process) and rejects once a byte of records.jsonl changes, the export journaled, RFC 4180 CSV
 * with formula cells defused, RFC 5322 transcripts threaded day after day, and the HTTP tar stream.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { extract } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addrSpec, encodeHeaderText, quotedPrintable, rfc5322Date } from './eml.js';
import { csvField, csvRow, writeBundle } from './export.js';
import { searchCommands } from './search-commands.js';
import { archiveRig, DAY0, record, RIG_ORIGIN, type ArchiveRig } from './test-rig.js';
import { archiveOptions } from './options.js';
import { cliContext } from '../testing.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const VERIFIER = join(REPO_ROOT, 'tools', 'verify-bundle.mjs');
const H = 3_600_000;
const D = 24 * H;
const ROOM = 'café@conference.example.com';

let rig: ArchiveRig;
let out: string;

beforeEach(async () => {
  rig = await archiveRig({}, { room: false });
  out = mkdtempSync(join(tmpdir(), 'parley-bundle-'));
  await rig.archive.journal([
    record({ id: 'a1', from: 'alice@example.com', to: 'bob@example.com', body: 'Day one: =SUM(A1) and "quotes", commas', ts: DAY0 }),
    record({ id: 'a2', from: 'bob@example.com', to: 'alice@example.com', body: 'reply\nwith two lines', ts: DAY0 + H }),
    record({ id: 'a3', kind: 'edit', ref: 'a1', from: 'alice@example.com', to: 'bob@example.com', body: 'Day one, corrected', ts: DAY0 + 2 * H }),
    record({ id: 'b1', from: 'alice@example.com', to: 'bob@example.com', body: 'Day two — ünïcødé 😀 '.repeat(8), ts: DAY0 + D }),
    record({ id: 'b2', kind: 'retract', ref: 'b1', from: 'alice@example.com', to: 'bob@example.com', ts: DAY0 + D + H }),
    record({ id: 'c1', from: 'bob@example.com', to: 'alice@example.com', body: '-1 day three', ts: DAY0 + 2 * D }),
    record({ id: 'r1', from: 'carol@example.com', to: ROOM, body: '@channel room news', ts: DAY0 + H }),
    record({ id: 'x1', from: 'carol@example.com', to: 'dave@example.com', body: 'not exported', ts: DAY0 }),
  ]);
});
afterEach(async () => {
  await rig.close();
  rmSync(out, { recursive: true, force: true });
});

const verify = (dir: string, key: string): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [VERIFIER, dir, key], { encoding: 'utf8', cwd: REPO_ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** Headers (unfolded, RFC 5322 §2.2.3) and body of an Internet message. */
function parseEml(text: string): { headers: Map<string, string>; body: string } {
  const split = text.indexOf('\r\n\r\n');
  expect(split).toBeGreaterThan(0);
  const headers = new Map<string, string>();
  for (const line of text.slice(0, split).replace(/\r\n[ \t]/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body: text.slice(split + 4) };
}

/** Decodes quoted-printable (RFC 2045 §6.7) back to UTF-8 text. */
const decodeQp = (s: string): string => {
  const raw = s.replace(/=\r\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '=') {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(raw.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
};

describe('export bundles', () => {
  it('writes a manifest as specified that the standalone verifier accepts, and a changed byte fails', async () => {
    const summary = await writeBundle(rig.archive, { participant: 'alice@example.com' }, { dir: out, actor: 'cli', origin: RIG_ORIGIN, now: DAY0 + 3 * D });
    expect(summary).toMatchObject({ entries: 6, records: 6 });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Record<string, unknown> & { records: Array<Record<string, unknown>> };
    expect(Object.keys(manifest)).toEqual(['origin', 'checkpoint', 'verifierKey', 'records']);
    expect(manifest.origin).toBe(RIG_ORIGIN);
    expect(manifest.checkpoint).toBe((await rig.archive.latestCheckpoint())!.note);
    for (const [i, r] of manifest.records.entries()) {
      expect(Object.keys(r)).toEqual(['index', 'file', 'line', 'leafHash', 'inclusionProof']);
      expect(r).toMatchObject({ file: 'records.jsonl', line: i + 1 });
      expect(r['leafHash']).toMatch(/^[0-9a-f]{64}$/);
    }
    // records.jsonl: the journaled bytes exactly.
    const lines = readFileSync(join(out, 'records.jsonl'), 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    for (const [i, r] of manifest.records.entries()) expect(lines[i]).toBe((await rig.archive.entry(r['index'] as number))!.entry);

    const key = await rig.archive.verifierKey(RIG_ORIGIN, 0);
    const ok = verify(out, key);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe(`verified 6 records against checkpoint size ${summary.size}\n`);

    const bytes = readFileSync(join(out, 'records.jsonl'));
    bytes[bytes.indexOf('corrected')] = 'C'.charCodeAt(0);
    writeFileSync(join(out, 'records.jsonl'), bytes);
    const bad = verify(out, key);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^FAIL record-mismatch: .*line 3\)/);
  });

  it('journals the export with its actor and query, under the checkpoint the proofs lead to', async () => {
    const summary = await writeBundle(rig.archive, { keywords: 'day', to: DAY0 + 2 * D }, { dir: out, actor: 'olive@example.com', origin: RIG_ORIGIN, now: 42 });
    const audit = JSON.parse((await rig.archive.entry(summary.audit))!.entry!) as Record<string, unknown>;
    expect(audit).toMatchObject({ type: 'archive.export', actor: 'olive@example.com', ts: 42, records: summary.entries, query: { keywords: 'day', to: DAY0 + 2 * D } });
    expect(summary.size).toBe(summary.audit + 1);
  });

  it('lists expired entries in the readable views but not as records, and still verifies', async () => {
    const db = new Database(rig.path);
    // Entry 0 is the rig's officer grant; the seeded messages follow it.
    db.prepare('UPDATE archive_journal SET entry = NULL, expired_at = 1 WHERE idx = 3').run();
    db.close();
    const summary = await writeBundle(rig.archive, { participant: 'bob@example.com', to: DAY0 + 12 * H }, { dir: out, actor: 'cli', origin: RIG_ORIGIN, now: 0 });
    expect(summary).toMatchObject({ entries: 3, records: 2 });
    const views = readFileSync(join(out, 'messages.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(views.map((v) => [v['index'], v['expired'], v['body']])).toEqual([[1, false, 'Day one: =SUM(A1) and "quotes", commas'], [2, true, null], [3, false, 'Day one, corrected']]);
    expect(verify(out, await rig.archive.verifierKey(RIG_ORIGIN, 0)).status).toBe(0);
    const eml = readdirSync(join(out, 'eml')).map((f) => decodeQp(parseEml(readFileSync(join(out, 'eml', f), 'utf8')).body)).join('');
    expect(eml).toContain('#2 bob@example.com: [content expired by retention]');
  });

  it('writes RFC 4180 CSV with formula cells defused', async () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvField('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-1')).toBe("'-1");
    expect(csvField('@cmd')).toBe("'@cmd");
    expect(csvField('=HYPERLINK("x","y")')).toBe('"\'=HYPERLINK(""x"",""y"")"');
    expect(csvField(-1)).toBe('-1');
    expect(csvField(null)).toBe('');
    expect(csvRow(['a', 1, null])).toBe('a,1,\r\n');
    await writeBundle(rig.archive, { participant: 'alice@example.com' }, { dir: out, actor: 'cli', origin: RIG_ORIGIN, now: 0 });
    const csv = readFileSync(join(out, 'messages.csv'), 'utf8');
    expect(csv.startsWith('index,time,type,conversation,from,to,body,ref,id,links,xml\r\n')).toBe(true);
    expect(csv).toContain(',"Day one: =SUM(A1) and ""quotes"", commas",');
    expect(csv).toContain('"reply\nwith two lines"');
    expect(csv).toContain(",'-1 day three,");
  });

  it('shows extension elements: the XML and its links in JSON Lines and CSV, a line each in the transcript', async () => {
    const xml = '<x xmlns="jabber:x:oob"><url>https://files.example.com/plan.pdf</url></x>';
    const reaction = '<reactions xmlns="urn:xmpp:reactions:0" id="e1"><reaction>👍</reaction></reactions>';
    await rig.archive.journal([
      record({ id: 'e1', from: 'erin@example.com', to: 'frank@example.com', body: 'the plan', ts: DAY0 + 3 * D, xml }),
      record({ id: 'e2', from: 'frank@example.com', to: 'erin@example.com', body: null, ts: DAY0 + 3 * D + H, xml: reaction }),
    ]);
    await writeBundle(rig.archive, { participant: 'erin@example.com' }, { dir: out, actor: 'cli', origin: RIG_ORIGIN, now: 0 });
    const views = readFileSync(join(out, 'messages.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(views.map((v) => [v['id'], v['xml'], v['links']])).toEqual([['e1', xml, ['https://files.example.com/plan.pdf']], ['e2', reaction, []]]);
    expect(views[1]!['extensions']).toEqual(['reaction to e1: 👍']);
    const csv = readFileSync(join(out, 'messages.csv'), 'utf8');
    expect(csv).toContain(',e1,https://files.example.com/plan.pdf,"<x xmlns=""jabber:x:oob"">');
    const eml = readdirSync(join(out, 'eml')).map((f) => decodeQp(parseEml(readFileSync(join(out, 'eml', f), 'utf8')).body)).join('');
    expect(eml).toContain('    [link: https://files.example.com/plan.pdf]');
    expect(eml).toContain('    [reaction to e1: 👍]');
    expect(verify(out, await rig.archive.verifierKey(RIG_ORIGIN, 0)).status).toBe(0);
  });

  it('writes one RFC 5322 message per conversation per day, threaded', async () => {
    const summary = await writeBundle(rig.archive, {}, { dir: out, actor: 'cli', origin: RIG_ORIGIN, now: 0 });
    const names = summary.files.filter((f) => f.startsWith('eml/'));
    const dm = names.filter((n) => n.includes('dm_alice')).sort();
    expect(dm).toHaveLength(3);
    expect(names.filter((n) => n.includes('conference'))).toHaveLength(1);
    const msgs = dm.map((n) => parseEml(readFileSync(join(out, n), 'utf8')));
    for (const m of msgs) {
      for (const h of ['from', 'to', 'date', 'subject', 'message-id', 'mime-version', 'content-type', 'content-transfer-encoding']) expect(m.headers.has(h), h).toBe(true);
      expect(m.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(m.headers.get('content-transfer-encoding')).toBe('quoted-printable');
      expect(m.headers.get('date')).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
      expect(m.headers.get('message-id')).toMatch(/^<[^<>@\s]+@example\.com>$/);
      expect(m.headers.get('subject')).toBe('Chat between alice@example.com and bob@example.com');
      for (const line of m.body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    }
    const [d1, d2, d3] = msgs as [ReturnType<typeof parseEml>, ReturnType<typeof parseEml>, ReturnType<typeof parseEml>];
    expect(d1.headers.has('in-reply-to')).toBe(false);
    expect(d2.headers.get('in-reply-to')).toBe(d1.headers.get('message-id'));
    expect(d3.headers.get('in-reply-to')).toBe(d2.headers.get('message-id'));
    expect(d3.headers.get('references')).toBe(`${d1.headers.get('message-id')} ${d2.headers.get('message-id')}`);
    expect(d1.headers.get('from')).toBe('alice@example.com');
    expect(d1.headers.get('to')).toBe('bob@example.com');
    // The body lists each item with time and sender; edits and retractions shown.
    const body1 = decodeQp(d1.body);
    expect(body1).toContain('[09:00:00] #1 alice@example.com: Day one: =SUM(A1) and "quotes", commas');
    expect(body1).toContain('[10:00:00] #2 bob@example.com: reply\r\n    with two lines');
    expect(body1).toContain('[11:00:00] #3 alice@example.com edited message a1: Day one, corrected');
    const body2 = decodeQp(d2.body);
    expect(body2).toContain('Day two — ünïcødé 😀');
    expect(body2).toContain('alice@example.com retracted message b1');
    // A non-ASCII subject is RFC 2047 encoded.
    const room = parseEml(readFileSync(join(out, names.find((n) => n.includes('conference'))!), 'utf8'));
    expect(room.headers.get('subject')).toMatch(/^=\?utf-8\?B\?[A-Za-z0-9+/=]+\?=$/);
    expect(Buffer.from(room.headers.get('subject')!.slice(10, -2), 'base64').toString('utf8')).toBe(`Room ${ROOM}`);
  });

  it('writes the same EML files when transcripts are spooled to disk, and leaves no spool behind', async () => {
    const inMemory = await writeBundle(rig.archive, {}, { dir: out, actor: 'cli', origin: RIG_ORIGIN, now: 0 });
    const emlOf = (dir: string, files: string[]): Map<string, string> =>
      new Map(files.filter((f) => f.startsWith('eml/')).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    const expected = emlOf(out, inMemory.files);
    const spooledDir = join(out, 'spooled');
    // A one-byte budget spools every transcript to disk before the EML files are written.
    const spooled = await writeBundle(rig.archive, {}, { dir: spooledDir, actor: 'cli', origin: RIG_ORIGIN, now: 0, spoolBytes: 1 });
    expect(emlOf(spooledDir, spooled.files)).toEqual(expected);
    expect(existsSync(join(spooledDir, '.spool'))).toBe(false);
  });

  it('fails with service-unavailable and the file system\'s code when an EML file cannot be written, and leaves no spool behind', async () => {
    const first = await writeBundle(rig.archive, {}, { dir: out, actor: 'cli', origin: RIG_ORIGIN, now: 0 });
    const names = first.files.filter((f) => f.startsWith('eml/'));
    const failing = join(out, 'failing');
    // A directory where the last transcript's file would go.
    mkdirSync(join(failing, names.at(-1)!), { recursive: true });
    const failed = writeBundle(rig.archive, {}, { dir: failing, actor: 'cli', origin: RIG_ORIGIN, now: 0, spoolBytes: 1 });
    await expect(failed).rejects.toMatchObject({ code: 'service-unavailable', details: { reason: 'export-files', errno: 'EISDIR' } });
    expect(existsSync(join(failing, '.spool'))).toBe(false);
    // The transcripts before it were written.
    for (const n of names.slice(0, -1)) expect(readFileSync(join(failing, n), 'utf8')).toBe(readFileSync(join(out, n), 'utf8'));
  });

  it('reads spooled transcripts back right when a day outgrows one read ahead, and when days were journaled out of order', async () => {
    // A later day journaled first (its run lies before the earlier day's, which is written out first), and a day
    // of 480,000 characters, more than the spool's reader takes at once.
    await rig.archive.journal([
      record({ id: 'late', from: 'alice@example.com', to: 'bob@example.com', body: 'journaled before the day before', ts: DAY0 + 6 * D }),
      record({ id: 'early', from: 'alice@example.com', to: 'bob@example.com', body: 'the day before', ts: DAY0 + 5 * D }),
      ...Array.from({ length: 8 }, (_, i) => record({ id: `big${i}`, from: 'bob@example.com', to: 'alice@example.com', body: `${i}`.repeat(60_000), ts: DAY0 + 4 * D + i })),
    ]);
    const emlOf = (dir: string, files: string[]): Map<string, string> =>
      new Map(files.filter((f) => f.startsWith('eml/')).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    const inMemory = await writeBundle(rig.archive, {}, { dir: out, actor: 'cli', origin: RIG_ORIGIN, now: 0 });
    const expected = emlOf(out, inMemory.files);
    expect([...expected.values()].some((eml) => decodeQp(eml).includes('7'.repeat(60_000)))).toBe(true);
    expect([...expected.values()].some((eml) => eml.includes('journaled before the day before'))).toBe(true);
    const spooledDir = join(out, 'spooled');
    const spooled = await writeBundle(rig.archive, {}, { dir: spooledDir, actor: 'cli', origin: RIG_ORIGIN, now: 0, spoolBytes: 1 });
    expect(emlOf(spooledDir, spooled.files)).toEqual(expected);
  });

  it('encodes transcripts and headers per RFC 2045, 2047 and 5322', () => {
    expect(rfc5322Date(Date.UTC(2026, 11, 4, 22, 9, 34))).toBe('Fri, 04 Dec 2026 22:09:34 +0000');
    const text = `${'x'.repeat(100)} = café \r\ntrailing space \r\n`;
    const qp = quotedPrintable(text);
    for (const line of qp.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(qp).toContain('caf=C3=A9');
    expect(qp).toContain('trailing space=20');
    expect(decodeQp(qp)).toBe(text);
    expect(encodeHeaderText('plain ascii')).toBe('plain ascii');
    const long = encodeHeaderText('ü'.repeat(60));
    for (const w of long.split('\r\n ')) expect(w.length).toBeLessThanOrEqual(75);
    expect(addrSpec('alice@example.com')).toBe('alice@example.com');
    expect(addrSpec('john smith@example.com')).toBe('"john smith"@example.com');
  });
});

describe('export over HTTP and the CLI', () => {
  it('streams the bundle as tar to an officer', async () => {
    const res = await rig.app.inject({ method: 'POST', url: '/api/v1/archive/export', headers: { authorization: `Bearer ${rig.tokens.officer}` }, payload: { participant: 'alice@example.com', from: '2026-03-02', to: '2026-03-02' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-tar');
    const files = new Map<string, Buffer>();
    const ex = extract();
    const done = new Promise<void>((resolve, reject) => {
      ex.on('entry', (header, stream, next) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => void chunks.push(c as Buffer));
        stream.on('end', () => {
          files.set(header.name, Buffer.concat(chunks));
          next();
        });
      });
      ex.on('finish', resolve);
      ex.on('error', reject);
    });
    Readable.from([res.rawPayload]).pipe(ex);
    await done;
    expect([...files.keys()].filter((n) => !n.startsWith('eml/'))).toEqual(['manifest.json', 'records.jsonl', 'messages.jsonl', 'messages.csv']);
    expect([...files.keys()].filter((n) => n.endsWith('.eml'))).toHaveLength(1);
    const dir = join(out, 'from-tar');
    for (const [name, data] of files) {
      if (name.endsWith('/')) continue;
      const path = join(dir, name);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, data);
    }
    expect(verify(dir, await rig.archive.verifierKey(RIG_ORIGIN, 0)).status).toBe(0);
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8')) as { records: unknown[] };
    expect(manifest.records).toHaveLength(3);
  });

  it('refuses a malformed export query with bad-request', async () => {
    const res = await rig.app.inject({ method: 'POST', url: '/api/v1/archive/export', headers: { authorization: `Bearer ${rig.tokens.officer}` }, payload: { keywords: '"open' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'bad-request' } });
  });

  it('exports from the CLI with progress', async () => {
    const cmd = searchCommands().find((c) => c.name === 'export')!;
    let printed = '';
    const progress: string[] = [];
    const code = await cmd.run(
      ['--out', out, '--room', ROOM],
      cliContext(archiveOptions.parse({ enabled: true, origin: RIG_ORIGIN, checkpointSeconds: 3600 }), rig.store, { out: (s) => void (printed += s), progress: (s) => void progress.push(s) }),
    );
    expect(code).toBe(0);
    expect(printed).toMatch(/^exported 1 entries \(1 records with proofs\)/);
    expect(progress).toContain('exported 1 of 1 entries');
    expect(verify(out, await rig.archive.verifierKey(RIG_ORIGIN, 0)).status).toBe(0);
    await expect(cmd.run(['--room', ROOM], cliContext(archiveOptions.parse({ enabled: true, origin: RIG_ORIGIN, checkpointSeconds: 3600 }), rig.store))).rejects.toMatchObject({ code: 'bad-request' });
  });
});
