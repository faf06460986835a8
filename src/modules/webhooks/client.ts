/**
 * One delivery attempt: a POST of the signed body to the webhook's URL over node:http or node:https, through
 * the SSRF guard (its `lookup` resolves and checks the host, and the socket connects to a checked address),
 * following at most `maxRedirects` redirects, each target checked again, within one deadline for the whole
 * attempt, reading at most `maxResponseBytes` of each response. Connections are kept alive per target.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { parseTargetUrl, TargetRefused, type TargetGuard } from './guard.js';

/** What an attempt came to. */
export interface AttemptResult {
  /** The final HTTP status, or null when there was none (network error, timeout, refused target). */
  status: number | null;
  durationMs: number;
  /** Why it failed, for the delivery log; null on success. */
  error: string | null;
  /** Whether a retry soon may succeed (network errors, timeouts, 408, 429, 5xx). */
  retryable: boolean;
  /** The server's Retry-After (RFC 9110 §10.2.3), in ms, when it sent one. */
  retryAfterMs: number | null;
}

/** Limits of an attempt. */
export interface ClientOptions {
  timeoutMs: number;
  maxRedirects: number;
  maxResponseBytes: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Retry-After as ms: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The HTTP client of the webhooks module. */
export class WebhookClient {
  private readonly http = new HttpAgent({ keepAlive: true, maxFreeSockets: 64 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxFreeSockets: 64 });

  constructor(
    private readonly guard: TargetGuard,
    private readonly opts: ClientOptions,
  ) {}

  /** POSTs `body` with `headers` to `url`; never throws. */
  async post(url: string, body: Buffer, headers: OutgoingHttpHeaders, signal?: AbortSignal): Promise<AttemptResult> {
    const started = performance.now();
    const deadline = Date.now() + this.opts.timeoutMs;
    const done = (r: Omit<AttemptResult, 'durationMs'>): AttemptResult => ({ ...r, durationMs: Math.round(performance.now() - started) });
    let target = url;
    try {
      for (let hop = 0; ; hop++) {
        const res = await this.once(target, body, headers, deadline, signal);
        if (REDIRECTS.has(res.status) && res.location !== undefined) {
          if (hop >= this.opts.maxRedirects) return done({ status: res.status, error: `more than ${this.opts.maxRedirects} redirects`, retryable: false, retryAfterMs: null });
          // Checked like the first target: the form here, the addresses when connecting.
          target = parseTargetUrl(new URL(res.location, target).href).href;
          continue;
        }
        const ok = res.status >= 200 && res.status < 300;
        const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
        return done({ status: res.status, error: ok ? null : `HTTP ${res.status}`, retryable, retryAfterMs: retryable ? retryAfterMs(res.retryAfter) : null });
      }
    } catch (e) {
      if (e instanceof TargetRefused) return done({ status: null, error: e.message, retryable: false, retryAfterMs: null });
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ERR_INVALID_URL' || err.name === 'ParleyError' ? `redirect to a bad URL: ${err.message}` : err.code ? `${err.code}: ${err.message}` : err.message;
      return done({ status: null, error: why, retryable: err.name !== 'ParleyError', retryAfterMs: null });
    }
  }

  /** One request, without following redirects. */
  private once(target: string, body: Buffer, headers: OutgoingHttpHeaders, deadline: number, signal?: AbortSignal): Promise<{ status: number; location?: string; retryAfter?: string }> {
    const url = new URL(target);
    const tls = url.protocol === 'https:';
    // An IP literal is never looked up: checked here, every hop.
    try {
      this.guard.checkLiteral(url.hostname);
    } catch (e) {
      return Promise.reject(e);
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new Error(`timed out after ${this.opts.timeoutMs} ms`));
    return new Promise((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          agent: tls ? this.https : this.http,
          lookup: this.guard.lookup,
          headers: { ...headers, 'content-length': body.length },
          ...(signal ? { signal } : {}),
        },
        (res: IncomingMessage) => {
          let read = 0;
          res.on('data', (chunk: Buffer) => {
            read += chunk.length;
            // The answer's body means nothing here: read a little, never much.
            if (read > this.opts.maxResponseBytes) res.destroy();
          });
          const answer = {
            status: res.statusCode ?? 0,
            ...(typeof res.headers.location === 'string' ? { location: res.headers.location } : {}),
            ...(typeof res.headers['retry-after'] === 'string' ? { retryAfter: res.headers['retry-after'] } : {}),
          };
          res.on('end', () => {
            clearTimeout(timer);
            resolve(answer);
          });
          res.on('close', () => {
            clearTimeout(timer);
            resolve(answer);
          });
          res.on('error', () => undefined);
        },
      );
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${this.opts.timeoutMs} ms`)), remaining);
      req.on('error', (e) => {
        clearTimeout(timer);
        const cause = (e as { cause?: unknown }).cause;
        reject(cause instanceof TargetRefused ? cause : e);
      });
      req.end(body);
    });
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
