/**
 * The liveness check of a client stream: one silent for `idleMs` gets a ping (XEP-0199), and one silent for
 * twice as long is dropped as a broken connection (so stream management may resume it). Before binding there is
 * nobody to ping: a silent stream is just dropped after twice `idleMs`.
 */
import { el, type Element } from '../xml/element.js';
import { NS } from './ns.js';

/** What the timer needs from its stream (the connection). */
export interface IdleHost {
  /** The bound session; null before binding. */
  readonly session: unknown;
  /** The served domain (the ping's `from`) and the session's full address (its `to`). */
  readonly domain: string;
  readonly full: string;
  sendElement(stanza: Element): void;
  readonly transport: { destroy(): void };
}

/** The idle timer of one stream; heard() on every read, stop() when the transport closes. */
export class IdleTimer {
  private lastHeard: number;
  private pinged = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly host: IdleHost,
    private readonly idleMs: number,
  ) {
    this.lastHeard = Date.now();
    // Checked twice per idle period, so silence is noticed at most half a period late.
    this.timer = setInterval(() => this.check(), Math.max(50, Math.floor(idleMs / 2)));
    this.timer.unref?.();
  }

  /** The client sent something: it is alive, and a pending ping no longer counts against it. */
  heard(): void {
    this.lastHeard = Date.now();
    this.pinged = false;
  }

  /** Stops the timer (the transport closed). */
  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const { host, idleMs } = this;
    const silent = Date.now() - this.lastHeard;
    if (silent < idleMs) return;
    if (this.pinged && silent >= idleMs * 2) {
      host.transport.destroy(); // broken connection: stream management may resume it
      return;
    }
    if (!this.pinged && host.session) {
      this.pinged = true;
      host.sendElement(el('iq', { xmlns: NS.client, type: 'get', id: `ping-${Date.now()}`, from: host.domain, to: host.full }, el('ping', { xmlns: NS.ping })));
    } else if (!host.session && silent >= idleMs * 2) {
      host.transport.destroy();
    }
  }
}
