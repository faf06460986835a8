import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../core/errors.js';
import { type PasswordInputStream, readPassword } from './password-input.js';

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const parts: Buffer[] = [];
  stream.on('data', (b: Buffer) => parts.push(b));
  return { stream, text: () => Buffer.concat(parts).toString('utf8') };
}

/** A PassThrough posing as a terminal, recording raw-mode switches. */
function fakeTty(): { stdin: PasswordInputStream & PassThrough; modes: boolean[] } {
  const modes: boolean[] = [];
  const stdin = Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    setRawMode(mode: boolean) {
      modes.push(mode);
      stdin.isRaw = mode;
      return stdin;
    },
  });
  return { stdin, modes };
}

describe('readPassword (piped stdin)', () => {
  it('reads the first line and strips \\r\\n', async () => {
    const stdin = new PassThrough();
    const err = sink();
    stdin.end('s3cret p\u00e4ss\r\nsecond line\n');
    await expect(readPassword({ prompt: 'Password: ', stdin, stderr: err.stream })).resolves.toBe('s3cret p\u00e4ss');
    expect(err.text()).toBe(''); // no prompt when not a terminal
    // The rest stays readable.
    expect(stdin.read()?.toString()).toBe('second line\n');
  });

  it('handles a line split across chunks, multi-byte characters included', async () => {
    const stdin = new PassThrough();
    const p = readPassword({ prompt: '', stdin, stderr: sink().stream, confirm: true });
    const bytes = Buffer.from('p\u00e4ss\u00e9\n');
    stdin.write(bytes.subarray(0, 2));
    await new Promise((r) => setImmediate(r));
    stdin.write(bytes.subarray(2));
    await expect(p).resolves.toBe('p\u00e4ss\u00e9');
  });

  it('accepts input without a trailing newline, and rejects empty input', async () => {
    const a = new PassThrough();
    a.end('no-newline');
    await expect(readPassword({ prompt: '', stdin: a, stderr: sink().stream })).resolves.toBe('no-newline');
    const b = new PassThrough();
    b.end();
    await expect(readPassword({ prompt: '', stdin: b, stderr: sink().stream })).rejects.toBeInstanceOf(ParleyError);
  });
});

describe('readPassword (terminal)', () => {
  it('prompts on stderr with echo off and handles backspace', async () => {
    const { stdin, modes } = fakeTty();
    const err = sink();
    const p = readPassword({ prompt: 'Password: ', stdin, stderr: err.stream });
    stdin.write('abx\u007fc');
    stdin.write('\u{1F600}\b!\r');
    await expect(p).resolves.toBe('abc!');
    expect(modes).toEqual([true, false]);
    expect(err.text()).toBe('Password: \n');
  });

  it('asks twice with confirm and rejects a mismatch', async () => {
    const ok = fakeTty();
    const err = sink();
    const p = readPassword({ prompt: 'Password: ', stdin: ok.stdin, stderr: err.stream, confirm: true });
    ok.stdin.write('same pw\r\nsame pw\r');
    await expect(p).resolves.toBe('same pw');
    expect(err.text()).toBe('Password: \nRetype password: \n');

    const bad = fakeTty();
    const q = readPassword({ prompt: 'Password: ', stdin: bad.stdin, stderr: sink().stream, confirm: true });
    bad.stdin.write('one\r');
    await new Promise((r) => setImmediate(r));
    bad.stdin.write('two\r');
    await expect(q).rejects.toThrow(/do not match/);
    expect(bad.modes).toEqual([true, false, true, false]);
  });

  it('rejects on Ctrl-C and restores the terminal', async () => {
    const { stdin, modes } = fakeTty();
    const p = readPassword({ prompt: 'Password: ', stdin, stderr: sink().stream });
    stdin.write('abc\u0003');
    await expect(p).rejects.toThrow(/cancelled/);
    expect(modes).toEqual([true, false]);
    expect(stdin.isRaw).toBe(false);
  });
});
