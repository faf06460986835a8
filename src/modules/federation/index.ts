/**
 * Server-to-server federation (RFC 6120) with the outsider policy at its centre (README.md). The module owns
 * the domain route that accepts every domain not hosted here (engine/domain-routes.ts): local users' stanzas to
 * remote addresses pass the policy (`check`, before anything is stored, and `send`) and go over the pool's
 * outgoing streams (pool.ts, outgoing.ts); remote servers' streams come in through the listener (listener.ts,
 * incoming.ts), and their stanzas pass the policy and are handed to the route's `deliver` (inbound.ts). Every
 * connection and every refusal is recorded through the change gate (the audit log; the archive journals it).
 */
import { randomBytes } from 'node:crypto';
import { ParleyError } from '../../core/errors.js';
import { domainPart } from '../../engine/domain-routes.js';
import { TokenBucket } from '../../protocols/token-bucket.js';
import { defineModule, type ModuleApi } from '../api.js';
import { outboundText } from '../components/routed.js';
import { bounceOf, handleInbound } from './inbound.js';
import type { AuthMethod, IncomingDeps, IncomingStream } from './incoming.js';
import { startS2sListener } from './listener.js';
import { linksCommand, linksOf } from './links.js';
import { federationOptions, type FederationOptions } from './options.js';
import { connectTarget, OutgoingFailure, type Established, type OutgoingDeps, type OutgoingStream, type Purpose } from './outgoing.js';
import { decide, policyOf, admitsDomain, type Decision } from './policy.js';
import { Pool } from './pool.js';
import { resolveTargets } from './resolver.js';
import { SERVER_NS } from './stream.js';
import { FederationTls, type PeerIdentity } from './tls.js';

/** Stanzas of one incoming stream read and not yet handled, past which the stream is not read (RFC 6120 §13.12). */
const MAX_BACKLOG = 1024;

/** The federation module. */
export const federation = defineModule({
  name: 'federation',
  summary: 'XMPP server-to-server federation (STARTTLS, SASL EXTERNAL, dialback) with the outsider policy',
  options: federationOptions,
  // Read per stanza and per stream authentication (api.options is the current value), so a change applies at once.
  live: ['policy'],
  commands: [linksCommand],
  async setup(api) {
    const opts = api.options;
    // XEP-0220 §2.1.2, §2.3: a key one node made may be checked by another (the remote server's db:verify reaches
    // whichever node its connection lands on), so every node of a cluster needs the same secret: a random one per
    // process would fail those checks. Refused at start rather than failing peers at random.
    if (api.engine.clustered && opts.dialback.enabled && opts.dialback.secret === undefined) {
      throw new ParleyError('bad-request', 'modules.federation: dialback.secret must be set, the same on every node, when Parley runs as a cluster (XEP-0220 keys made by one node are checked by another)');
    }
    const tls = new FederationTls(opts);
    const hosted = await api.engine.admin.domains();
    if (hosted.length === 0) throw new ParleyError('bad-request', 'modules.federation: no hosted domain to federate');
    const secret = opts.dialback.secret ?? randomBytes(32).toString('hex');
    const dialback = { enabled: opts.dialback.enabled, secret, allowUntrusted: opts.dialback.allowUntrusted };
    const isHosted = (d: string): boolean => api.engine.admin.hostsDomain(d);
    const parentOf = (d: string): string => d.slice(d.indexOf('.') + 1);
    // Hosted domains and their room domains: the only ones the route never serves.
    const isLocal = (d: string): boolean => isHosted(d) || (d.includes('.') && isHosted(parentOf(d)) && !api.engine.isRouted(d));
    const audit = auditor(api);

    /** The policy's decision for one exchange; a refusal is audited. */
    const decideFor = async (local: string, address: string | null, remote: string, direction: 'in' | 'out'): Promise<Decision> => {
      const p = policyOf(api.options.policy, local, isHosted(local) ? null : parentOf(local));
      const user = address !== null && address.includes('@') ? address : null;
      // The groups are a store read: asked only when the policy names groups.
      const needsGroups = p.restrictToGroups.length > 0 || p.exceptions.some((e) => e.groups.length > 0);
      const groups = user === null || !needsGroups ? [] : await api.engine.admin.groupsOf(user);
      const d = decide(p, user, groups, remote);
      if (!d.allowed) audit('refused', remote, { direction, local, user, reason: `policy: ${d.reason}` });
      return d;
    };
    const admits = (local: string, remote: string): Decision => admitsDomain(policyOf(api.options.policy, local, isHosted(local) ? null : parentOf(local)), remote);

    const base = { log: api.log, maxStanzaBytes: opts.maxStanzaBytes };
    const outDeps: OutgoingDeps = { ...base, tls, dialback, negotiationMs: opts.timeouts.negotiationSeconds * 1000, connectMs: opts.timeouts.connectSeconds * 1000 };
    /** Resolves `remote` and tries its addresses in order (RFC 6120 §3.2.1 step 5: the next on failure). */
    const open = async (local: string, remote: string, purpose: Purpose): Promise<{ stream: OutgoingStream; result: Established | boolean }> => {
      const targets = await resolveTargets(remote, opts.resolve, { timeoutMs: opts.timeouts.dnsSeconds * 1000 });
      if (targets.length === 0) throw new OutgoingFailure(`${remote} offers no server-to-server service (its SRV record is ".")`, false);
      let last: unknown = null;
      for (const t of targets) {
        try {
          const stream = await connectTarget(t, outDeps, local, remote, purpose);
          return { stream, result: await stream.done };
        } catch (e) {
          last = e;
          if (e instanceof OutgoingFailure && e.policy) break;
        }
      }
      throw last instanceof Error ? last : new OutgoingFailure(`cannot reach ${remote}`, false);
    };

    const pool = new Pool({
      log: api.log,
      limits: () => ({
        maxQueued: opts.maxQueuedStanzas,
        queueMs: opts.timeouts.queueSeconds * 1000,
        idleMs: opts.timeouts.idleSeconds * 1000,
        backoffMs: opts.backoff.initialSeconds * 1000,
        backoffMaxMs: opts.backoff.maxSeconds * 1000,
      }),
      open: async (local, remote) => {
        try {
          const { stream, result } = await open(local, remote, { kind: 'stanzas' });
          const established = result as Established;
          audit('connection', remote, { direction: 'out', local, address: stream.remoteAddress, ...stream.tlsInfo(), auth: established.method, ...peerOf(established.peer) });
          return { stream, established };
        } catch (e) {
          audit('refused', remote, { direction: 'out', local, reason: e instanceof Error ? e.message : 'error' });
          throw e;
        }
      },
    });

    const route = api.domainRoute({
      name: 'federation',
      accepts: () => true,
      check: async (to, from) => {
        if (from === undefined) return;
        const local = domainPart(from);
        const remote = domainPart(to);
        const d = await decideFor(local, from, remote, 'out');
        if (!d.allowed) throw new ParleyError('policy-violation', d.reason, { remote });
        pool.check(local, remote);
      },
      send: async (s) => {
        const local = domainPart(s.from);
        const remote = domainPart(s.to);
        const bare = s.from.split('/')[0]!;
        const d = await decideFor(local, bare, remote, 'out');
        if (!d.allowed) throw new ParleyError('policy-violation', d.reason, { remote });
        const bounce = s.type === 'error' || s.type === 'result' ? null : (err: ParleyError) => void route.deliver(bounceOf(s, err)).catch(() => undefined);
        pool.send(local, remote, { text: outboundText(s, SERVER_NS), bounce });
      },
    });

    const buckets = new Map<string, TokenBucket>();
    const methods = new WeakMap<IncomingStream, Map<string, AuthMethod>>();
    const order = new WeakMap<IncomingStream, Promise<void>>();
    const backlog = new WeakMap<IncomingStream, number>();
    const inDeps: IncomingDeps = {
      ...base,
      tls,
      dialback,
      isLocal,
      negotiationMs: opts.timeouts.negotiationSeconds * 1000,
      admits,
      verify: async (receiving, originating, streamId, key) => (await open(receiving, originating, { kind: 'verify', id: streamId, key })).result === true,
      charge: (remote) => {
        let b = buckets.get(remote);
        if (b === undefined) buckets.set(remote, (b = new TokenBucket(opts.stanzasPerSecond, Date.now())));
        return b.charge(Date.now());
      },
      stanza: (stream, e, remote, local) => {
        // Back-pressure: a stream whose stanzas pile up faster than they are handled is not read meanwhile.
        const waiting = (backlog.get(stream) ?? 0) + 1;
        backlog.set(stream, waiting);
        if (waiting >= MAX_BACKLOG) stream.hold(true);
        // Each stanza waits for the one before it to have its place in order (RFC 6120 §10.1), not for its commit,
        // so a link's messages share the store's commits; the backlog counts a stanza until it is handled.
        const accepted = (order.get(stream) ?? Promise.resolve())
          .then(() =>
            handleInbound(
              {
                reply: (l, r, text) => {
                  try {
                    pool.send(l, r, { text, bounce: null });
                  } catch {
                    // No way back to that server now (waiting before a retry): the reply is lost, as on any broken link.
                  }
                },
                decide: decideFor,
                accept: (s) => route.accept(s),
                hosted: isHosted,
                logError: (err, r) => api.log.error({ err, remote: r }, 'federation: an inbound stanza failed'),
              },
              e,
              remote,
              local,
            ),
          )
          .catch((err: unknown) => api.log.error({ err }, 'federation: inbound handling failed'));
        order.set(stream, accepted.then(() => undefined));
        void accepted
          .then((a) => a?.done)
          .finally(() => {
            const left = (backlog.get(stream) ?? 1) - 1;
            backlog.set(stream, left);
            if (left <= MAX_BACKLOG / 2) stream.hold(false);
          });
      },
      authenticated: (stream, local, remote, method, peer) => {
        let m = methods.get(stream);
        if (m === undefined) methods.set(stream, (m = new Map()));
        m.set(remote, method);
        audit('connection', remote, { direction: 'in', local, address: stream.remoteAddress, ...stream.tlsInfo(), auth: method, ...peerOf(peer) });
      },
      refused: (stream, local, remote, reason) => audit('refused', remote, { direction: 'in', local, address: stream.remoteAddress, reason }),
      closed: () => undefined,
    };
    const listener = await startS2sListener(opts, inDeps, hosted[0]!);
    const links = (): ReturnType<typeof linksOf> => linksOf(pool.all(), listener.streams, (s, r) => methods.get(s)?.get(r) ?? null);

    api.http((app, ctx) => {
      app.get('/links', async (req) => {
        await ctx.admin(req);
        return { port: listener.port, directTlsPort: listener.directTlsPort, links: links() };
      });
    });
    api.health(() => {
      const l = links();
      return { port: listener.port, incoming: l.filter((x) => x.direction === 'in').length, outgoing: l.filter((x) => x.direction === 'out' && x.state === 'ready').length };
    });
    api.onClose(async () => {
      route.remove();
      pool.close();
      await listener.close();
    });
  },
});

/** The audit path: each entry a change through the gate (`federation.connection`, `federation.refused`). */
function auditor(api: ModuleApi<FederationOptions>): (kind: 'connection' | 'refused', remote: string | null, data: Record<string, unknown>) => void {
  return (kind, remote, data) => {
    api.change(kind, { actor: null, subject: remote, data }, async () => undefined).catch((err: unknown) => api.log.warn({ err, kind }, 'federation: an audit entry could not be recorded'));
    if (kind === 'refused') api.log.info({ remote, ...data }, 'federation: refused');
  };
}

/** The peer certificate's fields for the audit trail. */
function peerOf(p: PeerIdentity | null): Record<string, unknown> {
  return p === null ? { certificate: null } : { certificate: { subject: p.subject, fingerprint: p.fingerprint, trusted: p.trusted, namesDomain: p.names } };
}

export type { FederationOptions } from './options.js';
