/**
 * Password entry for the operator CLI. Passwords never come from argv (visible in `ps` and shell history):
 * on a terminal they are typed with echo off, otherwise the first line of standard input is read, so scripts
 * can pipe one in (`printf '%s\n' "$PW" | parley user add …`).
 */
import { StringDecoder } from 'node:string_decoder';
import { ParleyError } from '../core/errors.js';

/** The input stream: process.stdin, or any readable (tests use a PassThrough). */
export interface PasswordInputStream extends NodeJS.ReadableStream {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** Options of readPassword. */
export interface ReadPasswordOptions {
  /** Shown on stderr before typing (terminal only), e.g. "Password: ". */
  prompt: string;
  stdin: PasswordInputStream;
  stderr: NodeJS.WritableStream;
  /** On a terminal, ask a second time and reject when the entries differ (ignored for piped input). */
  confirm?: boolean;
  /** Prompt of the confirmation (default "Retype password: "). */
  confirmPrompt?: string;
}

/** Longest accepted input line, in bytes; more is surely not a password. */
const MAX_LINE_BYTES = 64 * 1024;

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const CTRL_U = '\u0015';
const ESC = '\u001b';
const BACKSPACE = '\b';
const DELETE = '\u007f';

/** Reads a password from a terminal with echo off, or the first line of piped stdin (trailing "\r\n" stripped). */
export async function readPassword(opts: ReadPasswordOptions): Promise<string> {
  const { stdin, stderr } = opts;
  if (stdin.isTTY !== true) return readFirstLine(stdin);
  const first = await readHidden(stdin, stderr, opts.prompt);
  if (opts.confirm !== true) return first;
  const second = await readHidden(stdin, stderr, opts.confirmPrompt ?? 'Retype password: ');
  if (first !== second) throw new ParleyError('bad-request', 'the passwords do not match');
  return first;
}

/** Raw-mode entry: no echo; Enter ends, Backspace/DEL deletes, Ctrl-U clears, Ctrl-C (or Ctrl-D on empty) aborts. */
function readHidden(stdin: PasswordInputStream, stderr: NodeJS.WritableStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    if (typeof stdin.setRawMode !== 'function') {
      reject(new ParleyError('not-allowed', 'cannot turn off terminal echo for password entry'));
      return;
    }
    const wasRaw = stdin.isRaw === true;
    const decoder = new StringDecoder('utf8');
    const chars: string[] = [];
    let bytes = 0;

    const done = (err: ParleyError | null): void => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.removeListener('error', onError);
      stdin.setRawMode?.(wasRaw);
      stdin.pause();
      stderr.write('\n');
      if (err === null) resolve(chars.join(''));
      else reject(err);
    };
    const onData = (chunk: Buffer | string): void => {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      let i = 0;
      while (i < text.length) {
        // Walk code points, so Backspace removes a whole astral character.
        const ch = String.fromCodePoint(text.codePointAt(i) ?? 0);
        i += ch.length;
        switch (ch) {
          case '\r':
          case '\n': {
            // Push back what was typed ahead (a pasted confirmation), skipping the "\n" of a "\r\n".
            const rest = text.slice(ch === '\r' && text[i] === '\n' ? i + 1 : i);
            done(null);
            if (rest.length > 0) stdin.unshift(Buffer.from(rest, 'utf8'));
            return;
          }
          case CTRL_C:
            done(new ParleyError('bad-request', 'password entry cancelled'));
            return;
          case CTRL_D:
            if (chars.length === 0) {
              done(new ParleyError('bad-request', 'no password entered'));
              return;
            }
            break;
          case BACKSPACE:
          case DELETE:
            chars.pop();
            break;
          case CTRL_U:
            chars.length = 0;
            break;
          case ESC:
            return; // an escape sequence (arrow keys, …): drop the rest of this chunk
          default:
            if (ch >= ' ') {
              chars.push(ch);
              bytes += Buffer.byteLength(ch);
              if (bytes > MAX_LINE_BYTES) {
                done(new ParleyError('bad-request', 'password input is too long'));
                return;
              }
            }
        }
      }
    };
    const onEnd = (): void => done(new ParleyError('bad-request', 'no password entered'));
    const onError = (e: Error): void => done(new ParleyError('bad-request', `cannot read password: ${e.message}`));

    stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}

/** The first line of a non-terminal stream, without its "\n" or "\r\n"; what follows is pushed back unread. */
function readFirstLine(stdin: PasswordInputStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let sawData = false;

    const cleanup = (): void => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.removeListener('error', onError);
      stdin.pause();
    };
    const line = (): string => Buffer.concat(chunks).toString('utf8').replace(/\r$/, '');
    const onData = (chunk: Buffer | string): void => {
      sawData = true;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const nl = buf.indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(buf.subarray(0, nl));
        cleanup();
        const rest = buf.subarray(nl + 1);
        if (rest.length > 0) stdin.unshift(rest);
        resolve(line());
        return;
      }
      chunks.push(buf);
      size += buf.length;
      if (size > MAX_LINE_BYTES) {
        cleanup();
        reject(new ParleyError('bad-request', 'password input is too long'));
      }
    };
    const onEnd = (): void => {
      cleanup();
      if (sawData) resolve(line());
      else reject(new ParleyError('bad-request', 'no password on standard input'));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new ParleyError('bad-request', `cannot read password: ${e.message}`));
    };

    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}
