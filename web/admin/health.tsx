/** Health: the server's /health report (status, uptime, the modules' checks: storage, scanner, …) and the live usage figures. */
import { Fragment } from 'preact';
import { api } from './context.js';
import { Failure, Page, useLoad } from './ui.js';
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

/** The health page. */
export function HealthPage() {
  const health = useLoad(() => api().health(), []);
  const usage = useLoad(() => api().usage(1), []);
  const h = health.data;
  return (
    <Page
      title="Health"
      actions={
        <button type="button" onClick={() => (health.reload(), usage.reload())}>
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
    </Page>
  );
}
