/**
 * API keys and webhooks (the apikeys and webhooks modules' routes): every owner's keys, a new key's token shown
 * once, revocation; the administrator's own webhooks, a new one's signing secret shown once, deletion, and a
 * webhook's delivery log.
 */
import { useState } from 'preact/hooks';
import { api } from './context.js';
import { ConfirmAction, Failure, formAction, Head, Page, Scroll, useAction, useLoad, when } from './ui.js';

const SCOPES = ['presence:read', 'presence:write:things', 'notify', 'bot', 'webhooks'];

/** A secret shown once, with a note that it will not be shown again. */
function Secret({ label, value }: { label: string; value: string }) {
  return (
    <div class="secret" role="status">
      <p>
        <strong>{label}</strong> (shown only now: copy it somewhere safe)
      </p>
      <code>{value}</code>
    </div>
  );
}

function Keys() {
  const list = useLoad(() => api().listKeys(), []);
  const action = useAction();
  const [token, setToken] = useState<string | null>(null);
  return (
    <section class="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <Failure error={list.error} module="apikeys" />
      <Failure error={action.error} />
      {token !== null && <Secret label="The new key" value={token} />}
      {list.data !== null && (
        <Scroll label="API keys">
          <table>
            <caption class="sr-only">API keys</caption>
            <Head columns={['Name', 'Owner', 'Scopes', 'Created', 'State']} />
            <tbody>
              {list.data.keys.map((k) => (
                <tr key={k.id}>
                  <th scope="row">{k.name}</th>
                  <td>{k.owner}</td>
                  <td>{k.scopes.join(', ')}</td>
                  <td>{when(k.createdAt)}</td>
                  <td>
                    {k.revokedAt !== null ? (
                      `Revoked ${when(k.revokedAt)}`
                    ) : (
                      <ConfirmAction
                        label={`Revoke ${k.name}`}
                        title={`Revoke the key ${k.name}?`}
                        message={`Whatever uses it (${k.owner}) is refused from now on.`}
                        confirm="Revoke key"
                        action={action}
                        act={() => api().revokeKey(k.id)}
                        done={`Revoked ${k.name}.`}
                        after={list.reload}
                      />
                    )}
                  </td>
                </tr>
              ))}
              {list.data.keys.length === 0 && (
                <tr>
                  <td colSpan={5} class="empty">
                    No keys.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </Scroll>
      )}
      {list.data !== null && (
        <form
          class="form-grid"
          onSubmit={formAction(
            action,
            (f) => {
              const owner = String(f.get('owner')).trim();
              const body = { name: String(f.get('name')).trim(), scopes: f.getAll('scopes').map(String), ...(owner === '' ? {} : { owner }) };
              return [async () => setToken((await api().createKey(body)).token), `Created the key ${body.name}.`];
            },
            list.reload,
          )}
        >
          <h3>New key</h3>
          <label for="key-name">Name</label>
          <input id="key-name" name="name" required />
          <label for="key-owner">Owner (empty: you)</label>
          <input id="key-owner" name="owner" placeholder="bot@company.com" />
          <fieldset class="choice">
            <legend>Scopes</legend>
            {SCOPES.map((s) => (
              <label key={s}>
                <input type="checkbox" name="scopes" value={s} /> {s}
              </label>
            ))}
          </fieldset>
          <button type="submit" class="primary">
            Create key
          </button>
        </form>
      )}
    </section>
  );
}

function Deliveries({ id }: { id: string }) {
  const log = useLoad(() => api().webhookDeliveries(id), [id]);
  return (
    <Scroll label="Deliveries">
      <Failure error={log.error} />
      {log.data !== null && (
        <table>
          <caption>Deliveries</caption>
          <Head columns={['When', 'Event', 'Attempt', 'Outcome']} />
          <tbody>
            {log.data.deliveries.map((d) => (
              <tr key={`${d.deliveryId}-${d.attempt}`}>
                <td>{when(d.at)}</td>
                <td>{d.event}</td>
                <td>{d.attempt}</td>
                <td>{d.error ?? `HTTP ${d.status ?? '—'} in ${d.durationMs} ms`}</td>
              </tr>
            ))}
            {log.data.deliveries.length === 0 && (
              <tr>
                <td colSpan={4} class="empty">
                  Nothing delivered yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </Scroll>
  );
}

function Webhooks() {
  const list = useLoad(() => api().listWebhooks(), []);
  const action = useAction();
  const [secret, setSecret] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section class="card" aria-labelledby="hooks-title">
      <h2 id="hooks-title">Webhooks</h2>
      <Failure error={list.error} module="webhooks" />
      <Failure error={action.error} />
      {secret !== null && <Secret label="The new webhook's signing secret" value={secret} />}
      {list.data?.webhooks.map((w) => (
        <article key={w.id} class="hook">
          <div class="page-head">
            <h3>{w.url}</h3>
            <span class={w.disabled ? 'error' : 'muted'}>{w.disabled ? `Disabled: ${w.disabled.reason}` : 'Enabled'}</span>
            <button type="button" aria-expanded={open === w.id} onClick={() => setOpen(open === w.id ? null : w.id)}>
              Delivery log
            </button>
            <ConfirmAction
              label={`Delete webhook ${w.url}`}
              title="Delete this webhook?"
              message={`Nothing more is sent to ${w.url}.`}
              confirm="Delete webhook"
              action={action}
              act={() => api().deleteWebhook(w.id)}
              done="Deleted the webhook."
              after={list.reload}
            />
          </div>
          <p class="muted">
            {w.description ?? ''} {JSON.stringify(w.target)}
          </p>
          {open === w.id && <Deliveries id={w.id} />}
        </article>
      ))}
      {list.data?.webhooks.length === 0 && <p class="empty">No webhooks.</p>}
      {list.data !== null && (
        <form
          class="form-grid"
          onSubmit={formAction(
            action,
            (f) => {
              const addresses = String(f.get('addresses')).split(/[\s,]+/).filter((x) => x !== '');
              const group = String(f.get('group')).trim();
              const target = { ...(addresses.length > 0 ? { addresses } : {}), ...(group === '' ? {} : { group }) };
              const description = String(f.get('description')).trim();
              return [async () => setSecret((await api().createWebhook({ url: String(f.get('url')).trim(), target, ...(description === '' ? {} : { description }) })).secret), 'Created the webhook.'];
            },
            list.reload,
          )}
        >
          <h3>New webhook</h3>
          <label for="hook-url">URL</label>
          <input id="hook-url" name="url" type="url" required placeholder="https://example.com/parley" />
          <label for="hook-addresses">Presence of (addresses, comma or space separated)</label>
          <input id="hook-addresses" name="addresses" />
          <label for="hook-group">Or of a group</label>
          <input id="hook-group" name="group" />
          <label for="hook-description">Description</label>
          <input id="hook-description" name="description" />
          <button type="submit" class="primary">
            Create webhook
          </button>
        </form>
      )}
    </section>
  );
}

/** The API keys and webhooks page. */
export function KeysPage() {
  return (
    <Page title="API keys and webhooks">
      <Keys />
      <Webhooks />
    </Page>
  );
}
