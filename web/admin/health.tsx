/**
 * Health: the server's /health report (status, uptime, the modules' checks: storage, scanner, …), the live usage
 * figures, the sessions of the whole cluster and the server-to-server links.
 */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, hrefOf } from './context.js';
import { Failure, Head, Link, Page, Scroll, useLoad, when } from './ui.js';
import { LiveFigures } from './usage.js';

/** A check's value as text. */
const show = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

function Checks({ checks }: { checks: Record<string, unknown> }) {
  return (
    <div class="checks">
      {Object.keys(checks).length === 0 && <p class="muted">No module reports checks.</p>}
      {Object.entries(checks).map(([name, report]) => (
        <section class="card" key={name} aria-labelledby={`check-${name}`}>
          <h3 id={`check-${name}`}>{name}</h3>
          {typeof report === 'object' && report !== null ? (
            <dl class="facts">
              {Object.entries(report as Record<string, unknown>).map(([k, v]) => (
                <Fragment key={k}>
                  <dt>{k}</dt>
                  <dd class={k === 'degraded' && v ? 'error' : undefined}>{show(v)}</dd>
                </Fragment>
              ))}
            </dl>
          ) : (
            <p>{show(report)}</p>
          )}
        </section>
      ))}
    </div>
  );
}

const PROTOCOLS: Record<string, string> = { json: 'JSON WebSocket', 'xmpp-tcp': 'XMPP (TCP)', 'xmpp-websocket': 'XMPP over WebSocket', 'xmpp-bosh': 'XMPP over BOSH' };

/** The sessions of the whole cluster (the first ones listed; the counts are exact); read again when `round` moves. */
function Sessions({ round }: { round: number }) {
  const s = useLoad(() => api().listSessions(), [round]);
  return (
    <>
      <h2>Sessions</h2>
      <Failure error={s.error} />
      {s.data !== null && (
        <>
          <p>
            {s.data.total} sessions of {s.data.users} people:{' '}
            {Object.entries(s.data.byProtocol)
              .map(([p, n]) => `${PROTOCOLS[p] ?? p} ${n}`)
              .join(', ') || 'none'}
          </p>
          {s.data.sessions.length > 0 && (
            <Scroll label="Sessions">
              <table>
                <caption class="sr-only">Sessions</caption>
                <Head columns={['Account', 'Resource', 'Protocol', 'Since', 'Node']} />
                <tbody>
                  {s.data.sessions.slice(0, 100).map((x) => (
                    <tr key={x.id}>
                      <th scope="row">
                        <Link href={hrefOf('users', x.user ?? '')}>{x.user}</Link>
                      </th>
                      <td>{x.resource}</td>
                      <td>{PROTOCOLS[x.protocol] ?? x.protocol}</td>
                      <td>{when(x.openedAt)}</td>
                      <td>{x.node}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Scroll>
          )}
        </>
      )}
    </>
  );
}

const AUTH: Record<string, string> = { 'sasl-external': 'certificate (SASL EXTERNAL)', dialback: 'dialback', 'dialback-certificate': 'dialback, certificate valid' };

/** The server-to-server links (the federation module), each pair with its direction, state and authentication. */
function FederationLinks({ round }: { round: number }) {
  const l = useLoad(() => api().federationLinks(), [round]);
  return (
    <>
      <h2>Federation links</h2>
      <Failure error={l.error} module="federation" />
      {l.data !== null && l.data.links.length === 0 && <p class="muted">No link to another server now.</p>}
      {l.data !== null && l.data.links.length > 0 && (
        <Scroll label="Federation links">
          <table>
            <caption class="sr-only">Federation links</caption>
            <Head columns={['Remote server', 'Direction', 'Local domain', 'State', 'Authenticated by', 'Since', 'Stanzas in / out', 'Last error']} />
            <tbody>
              {l.data.links.map((x) => (
                <tr key={`${x.direction}|${x.local}|${x.remote}|${x.since}`}>
                  <th scope="row">{x.remote || '(not yet authenticated)'}</th>
                  <td>{x.direction === 'in' ? 'incoming' : 'outgoing'}</td>
                  <td>{x.local}</td>
                  <td class={x.state === 'backoff' ? 'error' : undefined}>{x.state}</td>
                  <td>{x.auth === null ? '—' : (AUTH[x.auth] ?? x.auth)}</td>
                  <td>{when(Date.parse(x.since))}</td>
                  <td>
                    {x.stanzasIn} / {x.stanzasOut}
                    {x.queued > 0 ? ` (${x.queued} queued)` : ''}
                  </td>
                  <td>{x.lastError ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
    </>
  );
}

/** The health page. */
export function HealthPage() {
  const health = useLoad(() => api().health(), []);
  const usage = useLoad(() => api().usage(1), []);
  // Refresh reads the sessions and the links again too.
  const [round, setRound] = useState(0);
  const h = health.data;
  return (
    <Page
      title="Health"
      actions={
        <button type="button" onClick={() => (health.reload(), usage.reload(), setRound((n) => n + 1))}>
          Refresh
        </button>
      }
    >
      <Failure error={health.error} />
      {h !== null && (
        <>
          <p class={`status ${h.status === 'ok' ? 'ok' : 'bad'}`}>
            Status: <strong>{String(h.status)}</strong>
            {Array.isArray(h.degraded) && h.degraded.length > 0 ? ` (${h.degraded.join('; ')})` : ''}
          </p>
          <dl class="figures">
            <div>
              <dt>Uptime</dt>
              <dd>{Math.round(Number(h.uptimeSeconds ?? 0) / 60)} min</dd>
            </div>
            <div>
              <dt>Sessions</dt>
              <dd>{show(h.sessions)}</dd>
            </div>
            <div>
              <dt>Connections</dt>
              <dd>{show(h.connections)}</dd>
            </div>
          </dl>
          <p>Modules: {Array.isArray(h.modules) ? h.modules.join(', ') : '—'}</p>
          <h2>Checks</h2>
          <Checks checks={(h.checks ?? {}) as Record<string, unknown>} />
        </>
      )}
      <h2>Live usage</h2>
      <Failure error={usage.error} module="usage" />
      {usage.data !== null && <LiveFigures now={usage.data.now} />}
      <Sessions round={round} />
      <FederationLinks round={round} />
    </Page>
  );
}
