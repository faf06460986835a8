/**
 * The malware scanner as the files module sees it: whether scanning is configured, clamd's state from its last
 * VERSION check or scan (for /health), and scans that fail closed. Every upload is scanned on a connection of its
 * own (clamd serves many at once, up to its MaxThreads); the periodic check only keeps the reported state fresh.
 */
import type { Logger } from '../../engine/context.js';
import { clamdCommand, InstreamScan, type ClamdTarget, type Verdict } from './clamd.js';
import type { FilesOptions } from './options.js';

/** The scanner's state as /health reports it. */
export interface ScannerState {
  /** off: no clamd configured (files are stored unscanned); up/down: the last check or scan reached clamd or not. */
  state: 'off' | 'up' | 'down' | 'unknown';
  /** Whether uploads are refused while clamd cannot scan them. */
  required: boolean;
  /** clamd's socket or address. */
  clamd: string | null;
  /** When clamd was last asked or used (ISO 8601), and its VERSION reply (engine/signature version/date). */
  lastCheck: string | null;
  version: string | null;
  /** Why it is down. */
  error: string | null;
}

/** The configured scanner. */
export class Scanner {
  readonly target: ClamdTarget | null;
  private readonly status: ScannerState;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: FilesOptions['clamd'],
    private readonly log: Logger,
  ) {
    this.target = options.socket !== null ? { socket: options.socket } : options.host !== null ? { host: options.host, port: options.port } : null;
    const where = options.socket ?? (options.host !== null ? `${options.host}:${options.port}` : null);
    this.status = { state: this.target === null ? 'off' : 'unknown', required: options.required, clamd: where, lastCheck: null, version: null, error: null };
  }

  /** Scanning is on. */
  get enabled(): boolean {
    return this.target !== null;
  }

  /** A copy of the state, for /health. */
  state(): ScannerState {
    return { ...this.status };
  }

  /** Asks clamd for its VERSION now, and every checkSeconds from now on. */
  start(): void {
    if (this.target === null || this.timer !== null) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.options.checkSeconds * 1000);
    this.timer.unref();
  }

  /** Stops the periodic check. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One VERSION round trip; updates the state. */
  async check(): Promise<ScannerState> {
    if (this.target === null) return this.state();
    try {
      const version = await clamdCommand(this.target, 'VERSION', this.options.timeoutMs);
      this.mark(true, null);
      this.status.version = version;
    } catch (e) {
      this.mark(false, e instanceof Error ? e.message : String(e));
    }
    return this.state();
  }

  private mark(up: boolean, error: string | null): void {
    if (up && this.status.state === 'down') this.log.info({ clamd: this.status.clamd }, 'clamd is reachable again');
    if (!up && this.status.state !== 'down') this.log.error({ clamd: this.status.clamd, error }, 'clamd is down: uploads are refused until it is back');
    this.status.state = up ? 'up' : 'down';
    this.status.error = error;
    this.status.lastCheck = new Date().toISOString();
  }

  /**
   * Starts a scan, or returns why none could start (clamd unreachable). Reaching clamd or not updates the state,
   * so /health reports a failure as soon as an upload meets it.
   */
  async open(): Promise<InstreamScan | { failed: string }> {
    if (this.target === null) return { failed: 'no clamd is configured' };
    try {
      const scan = await InstreamScan.open(this.target, this.options.timeoutMs);
      this.mark(true, null);
      return scan;
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.mark(false, reason);
      return { failed: reason };
    }
  }

  /** Notes how a scan ended: a connection that broke or timed out says clamd is down. */
  ended(verdict: Verdict): void {
    if (verdict.kind === 'failed' && verdict.down === true) this.mark(false, verdict.reason);
  }
}
