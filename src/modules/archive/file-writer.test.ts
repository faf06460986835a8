/**
 * FileBatchWriter: every file written with its content when batches fill by count, by size or only at close;
 * write() holding back while the thread is behind; a failed file (a missing directory) reported by its error
 * code on close and on the next write; a thread stopped with batches outstanding reported, not hung on.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBatchWriter } from './file-writer.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'parley-files-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const content = (i: number): string => `file ${i}: ${'é😀'.repeat(i % 7)}\r\n`;

describe('FileBatchWriter', () => {
  it.each([
    ['batches by count', { files: 7, chars: 1 << 30 }, 100],
    ['batches by size', { files: 1 << 30, chars: 40 }, 100],
    ['everything at close', {}, 30],
  ])('writes every file with its content (%s)', async (_, opts, n) => {
    const w = new FileBatchWriter(opts);
    for (let i = 0; i < n; i++) await w.write(join(dir, `f${i}.txt`), content(i));
    await w.close();
    expect(readdirSync(dir)).toHaveLength(n);
    for (let i = 0; i < n; i++) expect(readFileSync(join(dir, `f${i}.txt`), 'utf8')).toBe(content(i));
  });

  it('holds write() back while the thread has inFlight batches to answer', async () => {
    const w = new FileBatchWriter({ files: 1, inFlight: 2 });
    // Each write sends a batch; the second waits until the first is answered, so that file is on disk by then.
    await w.write(join(dir, 'a'), 'a');
    await w.write(join(dir, 'b'), 'b');
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('a');
    await w.close();
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('b');
  });

  it('reports a file it could not write by its error code, and takes no more', async () => {
    mkdirSync(join(dir, 'ok'));
    const w = new FileBatchWriter({ files: 2 });
    await w.write(join(dir, 'ok', '1'), 'one');
    await w.write(join(dir, 'missing', '2'), 'two');
    const failed = w.close();
    await expect(failed).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(failed).rejects.toThrow(/missing/);
    // The batch's file before the failure was written.
    expect(readFileSync(join(dir, 'ok', '1'), 'utf8')).toBe('one');
    await expect(w.write(join(dir, 'ok', '3'), 'three')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('answers a thread stopped with batches outstanding with an error', async () => {
    const w = new FileBatchWriter({ files: 1, inFlight: 1000 });
    // Sent without a turn of the event loop in between, so the thread (still starting) answers none of them.
    const writes = [0, 1, 2].map((i) => w.write(join(dir, `f${i}`), 'x'));
    const stopping = w.abort();
    await Promise.all(writes);
    await stopping;
    await expect(w.close()).rejects.toThrow(/file writer thread stopped/);
  });
});
