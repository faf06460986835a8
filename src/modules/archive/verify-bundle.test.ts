import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { canonicalBytes } from './jcs.js';
import { CompactRange, SubtreeHasher, inclusionProof, leafHash } from './merkle.js';
import { checkpointBody, generateSignerKey, parseSignerKey, signNote } from './note.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = join(REPO_ROOT, 'tools', 'verify-bundle.mjs');
const ORIGIN = 'parley.example/archive';

interface ManifestRecord {
  index: number;
  file: string;
  line: number;
  leafHash: string;
  inclusionProof: string[];
}

interface Manifest {
  origin: string;
  checkpoint: string;
  verifierKey: string;
  records: ManifestRecord[];
}

/** The exported API of the standalone verifier, as far as this test uses it. */
interface VerifierModule {
  verifyBundle(dir: string, key: string): { records: number; size: number; origin: string };
}

let work: string;
let good: string;
let keys: { signerKey: string; verifierKey: string };

/** Writes a bundle exporting 50 of the 73 entries of a log into `dir`. */
function buildBundle(dir: string): void {
  const entries = Array.from({ length: 73 }, (_, i) => ({
    seq: i,
    at: 1_700_000_000_000 + i * 1000,
    from: `user${i % 5}@parley.example`,
    to: `room${i % 3}@rooms.parley.example`,
    body: i % 7 === 0 ? `hello ${i} — ünïcødé 😀` : `hello ${i}`,
    score: i / 8,
  }));
  const leaves = entries.map((e) => leafHash(canonicalBytes(e)));
  const range = new CompactRange();
  for (const l of leaves) range.append(l);
  const signer = parseSignerKey(keys.signerKey);
  const checkpoint = signNote(checkpointBody(ORIGIN, range.size, range.root()), [signer]);
  const hasher = new SubtreeHasher((i) => leaves[i] as Buffer);
  const exported = entries.map((_, i) => i).filter((i) => i % 3 !== 1 || i > 60).slice(0, 50);
  const lines: string[] = [];
  const records: ManifestRecord[] = exported.map((index) => {
    lines.push(canonicalBytes(entries[index]).toString('utf8'));
    return {
      index,
      file: 'records.jsonl',
      line: lines.length,
      leafHash: (leaves[index] as Buffer).toString('hex'),
      inclusionProof: inclusionProof(index, range.size, hasher).map((h) => h.toString('base64')),
    };
  });
  const manifest: Manifest = { origin: ORIGIN, checkpoint, verifierKey: keys.verifierKey, records };
  writeFileSync(join(dir, 'records.jsonl'), lines.map((l) => `${l}\n`).join(''));
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

function run(dir: string, key: string = keys.verifierKey): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, dir, key], { encoding: 'utf8', cwd: REPO_ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the good bundle, changed by `mutate`. */
function variant(name: string, mutate: (dir: string) => void): string {
  const dir = join(work, name);
  cpSync(good, dir, { recursive: true });
  mutate(dir);
  return dir;
}

function editManifest(dir: string, edit: (m: Manifest) => void): void {
  const path = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  edit(m);
  writeFileSync(path, JSON.stringify(m));
}

function expectFailure(dir: string, code: string, key?: string): string {
  const r = run(dir, key);
  expect(r.status, r.stdout + r.stderr).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^FAIL ${code}: `));
  return r.stderr;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'archive-bundle-'));
  good = join(work, 'good');
  mkdirSync(good);
  keys = generateSignerKey(ORIGIN);
  buildBundle(good);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('tools/verify-bundle.mjs', () => {
  it('accepts an intact bundle', () => {
    const r = run(good);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('verified 50 records against checkpoint size 73\n');
  });

  it('exports its checks for in-process use', async () => {
    const specifier = SCRIPT;
    const mod = (await import(specifier)) as VerifierModule;
    expect(mod.verifyBundle(good, keys.verifierKey)).toEqual({ records: 50, size: 73, origin: ORIGIN });
  });

  it('catches one flipped byte in records.jsonl', () => {
    const dir = variant('flip-record', (d) => {
      const path = join(d, 'records.jsonl');
      const bytes = readFileSync(path);
      const at = bytes.indexOf('hello 3"');
      bytes[at] = (bytes[at] as number) ^ 0x01; // 'h' -> 'i': still canonical JSON, different entry
      writeFileSync(path, bytes);
    });
    expect(expectFailure(dir, 'record-mismatch')).toContain('index 3, file records.jsonl, line 3)');
  });

  it('catches a non-canonical but equivalent record', () => {
    const dir = variant('noncanonical', (d) => {
      const path = join(d, 'records.jsonl');
      writeFileSync(path, readFileSync(path, 'utf8').replace('{"at":', '{ "at":'));
    });
    expect(expectFailure(dir, 'record-mismatch')).toContain('canonical');
  });

  it('catches one flipped byte in a proof', () => {
    const dir = variant('flip-proof', (d) =>
      editManifest(d, (m) => {
        const rec = m.records[7] as ManifestRecord;
        const h = Buffer.from(rec.inclusionProof[1] as string, 'base64');
        h[5] = (h[5] as number) ^ 0x80;
        rec.inclusionProof[1] = h.toString('base64');
      }),
    );
    expectFailure(dir, 'bad-proof');
  });

  it('catches one flipped byte in the checkpoint', () => {
    const dir = variant('flip-checkpoint', (d) =>
      editManifest(d, (m) => {
        m.checkpoint = m.checkpoint.replace('\n73\n', '\n72\n');
      }),
    );
    expectFailure(dir, 'bad-signature');
  });

  it('refuses a checkpoint checked against the wrong key', () => {
    expectFailure(good, 'bad-signature', generateSignerKey(ORIGIN).verifierKey);
  });

  it('refuses a manifest whose key differs from the given one', () => {
    const other = generateSignerKey(ORIGIN).verifierKey;
    const dir = variant('manifest-key', (d) =>
      editManifest(d, (m) => {
        m.verifierKey = other;
      }),
    );
    expectFailure(dir, 'key-mismatch');
  });

  it('refuses an origin mismatch', () => {
    const dir = variant('origin', (d) =>
      editManifest(d, (m) => {
        m.origin = 'elsewhere.example/log';
      }),
    );
    expectFailure(dir, 'origin-mismatch');
  });

  it('reports malformed manifests and missing files', () => {
    expectFailure(variant('garbage', (d) => writeFileSync(join(d, 'manifest.json'), '{nope')), 'malformed-manifest');
    expectFailure(
      variant('escape', (d) =>
        editManifest(d, (m) => {
          (m.records[0] as ManifestRecord).file = '../good/records.jsonl';
        }),
      ),
      'malformed-manifest',
    );
    expectFailure(variant('missing', (d) => rmSync(join(d, 'records.jsonl'))), 'missing-file');
    expectFailure(join(work, 'no-such-dir'), 'missing-file');
  });

  it('refuses a record pointing at the wrong line', () => {
    const dir = variant('wrong-line', (d) =>
      editManifest(d, (m) => {
        const rec = m.records[3] as ManifestRecord;
        rec.line += 1;
      }),
    );
    expectFailure(dir, 'record-mismatch');
  });
});
