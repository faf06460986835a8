/** Users: the accounts with search and paging, and the form that creates a person (with a password) or a bot. */
import { useState } from 'preact/hooks';
import { api, hrefOf } from './context.js';
import { Failure, Link, Page, Pager, Scroll, useAction, useLoad, usePager, when } from './ui.js';

const PAGE_SIZE = 25;

function CreateUser({ onCreated }: { onCreated: () => void }) {
  const [kind, setKind] = useState<'person' | 'bot'>('person');
  // A new form after each account created: form.reset() would clear the radio buttons Preact checked.
  const [generation, setGeneration] = useState(0);
  const action = useAction();
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const address = String(f.get('address')).trim();
    const body = kind === 'bot'
      ? { address, kind, admin: false }
      : { address, kind, password: String(f.get('password')), admin: f.get('admin') === 'on' };
    if (await action.run(() => api().createUser(body), `Created ${address}.`)) {
      setGeneration((g) => g + 1);
      setKind('person');
      onCreated();
    }
  };
  return (
    <form key={generation} class="card form-grid" onSubmit={submit} aria-labelledby="create-user-title">
      <h2 id="create-user-title">New account</h2>
      <fieldset class="choice">
        <legend>Kind</legend>
        <label>
          <input type="radio" name="kind" value="person" checked={kind === 'person'} onChange={() => setKind('person')} /> Person
        </label>
        <label>
          <input type="radio" name="kind" value="bot" checked={kind === 'bot'} onChange={() => setKind('bot')} /> Bot (logs in with an API key)
        </label>
      </fieldset>
      <label for="new-address">Address</label>
      <input id="new-address" name="address" required placeholder="name@company.com" autocomplete="off" aria-describedby={action.error ? 'create-user-error' : undefined} />
      {kind === 'person' && (
        <>
          <label for="new-password">Password</label>
          <input id="new-password" name="password" type="password" required autocomplete="new-password" minLength={1} />
          <label class="check">
            <input type="checkbox" name="admin" /> Administrator
          </label>
        </>
      )}
      <div id="create-user-error">
        <Failure error={action.error} />
      </div>
      <button type="submit" class="primary" disabled={action.busy}>
        Create account
      </button>
    </form>
  );
}

/** The accounts page. */
export function UsersPage() {
  const [q, setQ] = useState('');
  const [domain, setDomain] = useState('');
  const pager = usePager<string>();
  const domains = useLoad(() => api().listDomains(), []);
  const list = useLoad(() => api().listUsers({ q, domain: domain || undefined, after: pager.cursor, limit: PAGE_SIZE }), [q, domain, pager.cursor]);
  return (
    <Page title="Users">
      <form
        class="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          setQ(String(f.get('q') ?? '').trim());
          setDomain(String(f.get('domain') ?? ''));
          pager.reset();
        }}
      >
        <label for="user-search">Search accounts</label>
        <input id="user-search" name="q" type="search" placeholder="part of the address" />
        <label for="user-domain">Domain</label>
        <select id="user-domain" name="domain">
          <option value="">All domains</option>
          {domains.data?.domains.map((d) => (
            <option key={d} value={d}>
              {d}
            </option>
          ))}
        </select>
        <button type="submit">Search</button>
      </form>
      <Failure error={list.error} />
      {list.data !== null && (
        <>
          <Scroll label="Accounts">
            <table>
              <caption class="sr-only">Accounts</caption>
              <thead>
                <tr>
                  <th scope="col">Address</th>
                  <th scope="col">Kind</th>
                  <th scope="col">State</th>
                  <th scope="col" class="wide-only">Created</th>
                  <th scope="col" class="wide-only">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {list.data.users.map((u) => (
                  <tr key={u.address}>
                    <th scope="row">
                      <Link href={hrefOf('users', u.address)}>{u.address}</Link>
                    </th>
                    <td>{u.kind === 'bot' ? 'Bot' : u.admin ? 'Administrator' : 'Person'}</td>
                    <td>{u.disabled ? 'Disabled' : u.online ? 'Online' : 'Offline'}</td>
                    <td class="wide-only">{when(u.createdAt)}</td>
                    <td class="wide-only">{u.online ? 'now' : when(u.lastSeen)}</td>
                  </tr>
                ))}
                {list.data.users.length === 0 && (
                  <tr>
                    <td colSpan={5} class="empty">
                      No accounts match.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Scroll>
          <Pager label="Accounts" page={pager.page} hasNext={list.data.next !== null} onBack={pager.back} onNext={() => list.data?.next && pager.next(list.data.next)} />
        </>
      )}
      <CreateUser onCreated={list.reload} />
    </Page>
  );
}
