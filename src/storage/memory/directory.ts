/** Domains, accounts and login tokens of the in-memory store. */
import { ParleyError } from '../../core/errors.js';
import type { Account, AccountStore, Credentials, DomainStore, TokenStore } from '../../ports/store.js';
import { domainOf, inDomain } from '../rules.js';
import { byCodeUnit, purgeAccount, purgeRoom, type MemoryState } from './state.js';

/** The memory DomainStore. */
export function createMemoryDomains(s: MemoryState): DomainStore {
  return {
    async add(domain, createdAt) {
      if (s.domains.has(domain)) throw new ParleyError('conflict', `domain ${domain} exists`);
      s.domains.set(domain, createdAt);
    },
    async remove(domain) {
      if (!s.domains.has(domain)) return false;
      for (const address of [...s.accounts.keys()]) if (domainOf(address) === domain) purgeAccount(s, address);
      for (const room of [...s.rooms.keys()]) if (inDomain(domainOf(room), domain)) purgeRoom(s, room);
      s.domains.delete(domain);
      return true;
    },
    async list() {
      return [...s.domains.keys()].sort(byCodeUnit);
    },
  };
}

/** The memory AccountStore. */
export function createMemoryAccounts(s: MemoryState): AccountStore {
  return {
    async create(account) {
      const domain = domainOf(account.address);
      if (!s.domains.has(domain)) throw new ParleyError('item-not-found', `domain ${domain || '(none)'} is not hosted`);
      if (s.accounts.has(account.address)) throw new ParleyError('conflict', `account ${account.address} exists`);
      // The log's last seq now: this incarnation reads only what comes after (any createdSeq given is ignored).
      s.accounts.set(account.address, { ...structuredClone(account), kind: account.kind ?? 'person', disabled: account.disabled ?? false, createdSeq: s.log.length });
    },
    async get(address) {
      const a = s.accounts.get(address);
      return a ? structuredClone(a) : null;
    },
    async list(domain) {
      return [...s.accounts.values()]
        .filter((a) => domain === undefined || domainOf(a.address) === domain)
        .sort((a, b) => byCodeUnit(a.address, b.address))
        .map((a) => ({ address: a.address, admin: a.admin, kind: a.kind, disabled: a.disabled, createdAt: a.createdAt, lastSeen: a.lastSeen }));
    },
    async remove(address) {
      return purgeAccount(s, address);
    },
    async setCredentials(address, credentials: Credentials) {
      const a = s.accounts.get(address);
      if (!a) return false;
      a.credentials = structuredClone(credentials);
      return true;
    },
    async setDisabled(address, disabled) {
      const a = s.accounts.get(address);
      if (!a) return false;
      a.disabled = disabled;
      return true;
    },
    async setAdmin(address, admin) {
      const a = s.accounts.get(address);
      if (!a) return false;
      a.admin = admin;
      return true;
    },
    async setLastSeen(address, at, status) {
      const a: Account | undefined = s.accounts.get(address);
      if (!a) return;
      a.lastSeen = at;
      a.lastStatus = status;
    },
  };
}

/** The memory TokenStore. */
export function createMemoryTokens(s: MemoryState): TokenStore {
  return {
    async put(hash, record) {
      s.tokens.set(hash, { ...record });
    },
    async get(hash) {
      const t = s.tokens.get(hash);
      return t ? { ...t } : null;
    },
    async revoke(hash) {
      s.tokens.delete(hash);
    },
    async revokeAll(address) {
      for (const [hash, t] of s.tokens) if (t.address === address) s.tokens.delete(hash);
    },
    async purgeExpired(now) {
      let n = 0;
      for (const [hash, t] of s.tokens) {
        if (t.expiresAt <= now) {
          s.tokens.delete(hash);
          n++;
        }
      }
      return n;
    },
  };
}
