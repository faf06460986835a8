/** Domains: the hosted domains; add one, remove one (after a confirmation that says its accounts go with it). */
import { api } from './context.js';
import { ConfirmAction, Failure, formAction, Page, useAction, useLoad } from './ui.js';

/** The domains page. */
export function DomainsPage() {
  const list = useLoad(() => api().listDomains(), []);
  const action = useAction();
  return (
    <Page title="Domains">
      <Failure error={list.error} />
      <Failure error={action.error} />
      {list.data !== null && (
        <ul class="plain-list" aria-label="Hosted domains">
          {list.data.domains.map((d) => (
            <li key={d}>
              <span>{d}</span>
              <ConfirmAction
                label={`Remove ${d}`}
                title={`Remove ${d}?`}
                message={`This removes the domain ${d} and every account under it, with their rosters and offline messages. Their sessions end. This cannot be undone.`}
                confirm="Remove domain and its accounts"
                action={action}
                act={() => api().removeDomain(d)}
                done={`Removed ${d}.`}
                after={list.reload}
              />
            </li>
          ))}
          {list.data.domains.length === 0 && <li class="empty">No domains.</li>}
        </ul>
      )}
      <form
        class="card inline-form"
        aria-labelledby="add-domain-title"
        onSubmit={formAction(
          action,
          (f) => {
            const domain = String(f.get('domain')).trim();
            return [() => api().addDomain(domain), `Added ${domain}.`];
          },
          list.reload,
        )}
      >
        <h2 id="add-domain-title">Add a domain</h2>
        <label for="new-domain">Domain</label>
        <input id="new-domain" name="domain" required placeholder="example.com" />
        <button type="submit" class="primary">
          Add domain
        </button>
      </form>
    </Page>
  );
}
