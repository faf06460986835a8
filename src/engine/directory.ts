/**
 * Which domains and users this server hosts, cached in memory. The operator CLI may change the database
 * from another process, so the cache is dropped whenever the store's data version moves.
 */
import { ParleyError } from '../core/errors.js';
import type { Store } from '../ports/store.js';

const USER_CACHE_MAX = 100_000;

/** Cached view of hosted domains and existing accounts. */
export class Directory {
  private domains = new Set<string>();
  /** Account → its createdSeq (which incarnation exists), or null when there is none. */
  private readonly users = new Map<string, number | null>();
  private version = -1;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly roomSubdomain: string,
    private readonly onRefresh: (external: boolean) => void = () => undefined,
  ) {}

  /**
   * Loads the domain list and forgets cached users (and, through onRefresh, other engine caches). `external`
   * says another process changed the data (the watch noticed), rather than this server's own admin API.
   */
  async refresh(external = false): Promise<void> {
    this.version = await this.store.dataVersion();
    this.domains = new Set(await this.store.domains.list());
    this.users.clear();
    this.onRefresh(external);
  }

  /** Polls the data version so changes made by `parley` commands show up within `everyMs`. */
  watch(everyMs: number): void {
    this.timer = setInterval(() => {
      this.store
        .dataVersion()
        .then((v) => (v !== this.version ? this.refresh(true) : undefined))
        .catch(() => undefined);
    }, everyMs);
    this.timer.unref();
  }

  /** Stops polling. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Forgets one user's cached existence (after create/remove through this process). */
  forget(user: string): void {
    this.users.delete(user);
  }

  /** Whether the domain is hosted here. */
  hostsDomain(domain: string): boolean {
    return this.domains.has(domain);
  }

  /** The rooms domain of a hosted domain (conference.example.com). */
  roomDomainOf(domain: string): string {
    return `${this.roomSubdomain}.${domain}`;
  }

  /** Whether `domain` is the rooms domain of a hosted domain. */
  isRoomDomain(domain: string): boolean {
    const prefix = `${this.roomSubdomain}.`;
    return domain.startsWith(prefix) && this.domains.has(domain.slice(prefix.length));
  }

  /** Whether an account exists (cached). */
  async userExists(bare: string): Promise<boolean> {
    return (await this.createdSeq(bare)) !== null;
  }

  /**
   * The account's createdSeq (cached), or null when it does not exist. An address removed and created again
   * is a new account: records up to this seq belong to its predecessor.
   */
  async createdSeq(bare: string): Promise<number | null> {
    const hit = this.users.get(bare);
    if (hit !== undefined) return hit;
    const seq = (await this.store.accounts.get(bare))?.createdSeq ?? null;
    if (this.users.size >= USER_CACHE_MAX) this.users.clear();
    this.users.set(bare, seq);
    return seq;
  }

  /**
   * Checks that `bare` is a local user: remote-server-not-found for a domain not served here (federation comes
   * later), item-not-found for an unknown account.
   */
  async requireUser(bare: string, domain: string): Promise<void> {
    if (!this.domains.has(domain)) {
      throw new ParleyError('remote-server-not-found', `domain ${domain} is not served by this server`);
    }
    if (!(await this.userExists(bare))) throw new ParleyError('item-not-found', `no such user ${bare}`);
  }
}
