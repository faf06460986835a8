/**
 * A private ClamAV daemon for a test: clamd from Debian's clamav-daemon, run in the foreground on a unix socket
 * in a temporary directory, with a signature database of its own so no download is ever needed:
 *
 * - parley.hdb: an MD5 signature (`md5:size:name`, clamav signatures(5)) of a test file;
 * - parley.ndb: the EICAR test string as a body signature (clamd detects EICAR only through a signature; with a
 *   private database and no Debian main/daily database it answers OK for it).
 *
 * `AlertExceedsMax yes` makes files past clamd's scan limits (MaxFileSize 512K here) an alert instead of OK, and
 * `StreamMaxLength` is small so a test can pass it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clamdCommand } from '../src/modules/files/clamd.js';

/** The EICAR anti-virus test file (68 bytes). */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** The test file the MD5 signature matches, and the name clamd reports for it (`.UNOFFICIAL`: not ClamAV's own). */
export const INFECTED = Buffer.from('Parley test file that the private signature database calls malware\n');
export const INFECTED_SIGNATURE = 'Parley.Test.Sample.UNOFFICIAL';

/** clamd's path, or null when it is not installed. */
export function findClamd(): string | null {
  for (const p of ['/usr/sbin/clamd', '/usr/local/sbin/clamd']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v clamd'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
}

/** A running clamd. */
export class TestClamd {
  private constructor(
    readonly socket: string,
    private readonly child: ChildProcess,
    private output: { text: string },
  ) {}

  /** Starts clamd under `dir` and waits until it answers PING (loading a tiny database takes a second or two). */
  static async start(bin: string, dir: string, streamMaxLength = '1M'): Promise<TestClamd> {
    const db = join(dir, 'db');
    mkdirSync(db, { recursive: true });
    const md5 = createHash('md5').update(INFECTED).digest('hex');
    writeFileSync(join(db, 'parley.hdb'), `${md5}:${INFECTED.length}:Parley.Test.Sample\n`);
    writeFileSync(join(db, 'parley.ndb'), `Parley.Test.EICAR:0:*:${Buffer.from('EICAR-STANDARD-ANTIVIRUS-TEST-FILE').toString('hex')}\n`);
    const socket = join(dir, 'clamd.sock');
    const conf = join(dir, 'clamd.conf');
    writeFileSync(
      conf,
      [
        `LocalSocket ${socket}`,
        `DatabaseDirectory ${db}`,
        'Foreground yes',
        // As root clamd would switch to the clamav user, who cannot read the test's temp dir: stay root. Run as
        // another user, clamd cannot switch and stays that user anyway.
        ...(process.getuid?.() === 0 ? ['User root'] : []),
        'AlertExceedsMax yes',
        `StreamMaxLength ${streamMaxLength}`,
        // Below StreamMaxLength, so a test can pass the scan limits (which clamd reports as OK without
        // AlertExceedsMax) without passing the stream limit.
        'MaxFileSize 512K',
        'MaxScanSize 512K',
        'LogFile /dev/null',
        'SelfCheck 3600',
      ].join('\n') + '\n',
    );
    const child = spawn(bin, ['--foreground', `--config-file=${conf}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = { text: '' };
    const keep = (b: Buffer): void => {
      output.text = (output.text + b.toString('utf8')).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const c = new TestClamd(socket, child, output);
    const end = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`clamd exited (${child.exitCode}): ${output.text}`);
      try {
        if ((await clamdCommand({ socket }, 'PING', 2000)) === 'PONG') return c;
      } catch {
        // not listening yet
      }
      if (Date.now() > end) {
        c.kill();
        throw new Error(`clamd did not answer PING within 60 s: ${output.text}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Kills clamd and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Kills clamd without waiting. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** What clamd printed (for failure messages). */
  get log(): string {
    return this.output.text;
  }
}
