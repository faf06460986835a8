/**
 * One account: its state, sessions (protocol, resource, since) and shared groups; disable or enable, reset the
 * password, make or revoke an administrator, end one or every session, delete (after a confirmation).
 */
import { api, hrefOf, navigate } from './context.js';
import { ConfirmAction, Failure, Head, Link, Page, Scroll, useAction, useLoad, when } from './ui.js';

const PROTOCOLS: Record<string, string> = {
  json: 'JSON WebSocket',
  'xmpp-tcp': 'XMPP (TCP)',
  'xmpp-websocket': 'XMPP over WebSocket',
  'xmpp-bosh': 'XMPP over BOSH',
};

/** The page of one account. */
export function UserPage({ address }: { address: string }) {
  const user = useLoad(() => api().getUser(address), [address]);
  const action = useAction();
  const u = user.data;
  const act = async (fn: () => Promise<unknown>, done: string): Promise<void> => {
    if (await action.run(fn, done)) user.reload();
  };
  return (
    <Page title={address} actions={<Link href={hrefOf('users')}>All users</Link>}>
      <Failure error={user.error} />
      <Failure error={action.error} />
      {u !== null && (
        <>
          <dl class="facts">
            <dt>Kind</dt>
            <dd>{u.kind === 'bot' ? 'Bot' : 'Person'}</dd>
            <dt>Administrator</dt>
            <dd>{u.admin ? 'Yes' : 'No'}</dd>
            <dt>State</dt>
            <dd>{u.disabled ? 'Disabled' : u.online ? 'Online' : 'Offline'}</dd>
            <dt>Created</dt>
            <dd>{when(u.createdAt)}</dd>
            <dt>Last seen</dt>
            <dd>{u.online ? 'now' : when(u.lastSeen)}</dd>
            <dt>Shared groups</dt>
            <dd>{u.groups.length === 0 ? 'none' : u.groups.join(', ')}</dd>
          </dl>
          <div class="row actions">
            <button type="button" onClick={() => void act(() => api().updateUser(address, { disabled: !u.disabled }), `${address} ${u.disabled ? 'enabled' : 'disabled'}.`)}>
              {u.disabled ? 'Enable account' : 'Disable account'}
            </button>
            <button type="button" onClick={() => void act(() => api().updateUser(address, { admin: !u.admin }), u.admin ? `${address} is no longer an administrator.` : `${address} is now an administrator.`)}>
              {u.admin ? 'Revoke administrator' : 'Make administrator'}
            </button>
            <ConfirmAction
              label="Delete account"
              title={`Delete ${address}?`}
              message="The account, its roster and its offline messages are removed and its sessions end. This cannot be undone."
              confirm="Delete"
              action={action}
              act={() => api().deleteUser(address)}
              done={`Deleted ${address}.`}
              after={() => navigate(hrefOf('users'))}
            />
          </div>
          {u.kind === 'person' && (
            <form
              class="card inline-form"
              aria-labelledby="password-title"
              onSubmit={(e) => {
                e.preventDefault();
                const form = e.currentTarget;
                const pw = String(new FormData(form).get('password'));
                void action.run(() => api().setPassword(address, pw), `New password set for ${address}.`).then((ok) => ok && form.reset());
              }}
            >
              <h2 id="password-title">Reset password</h2>
              <label for="reset-password">New password</label>
              <input id="reset-password" name="password" type="password" autocomplete="new-password" required />
              <button type="submit">Set password</button>
            </form>
          )}
          <div class="page-head">
            <h2>Sessions</h2>
            {u.sessions.length > 0 && (
              <button type="button" onClick={() => void act(() => api().endSessions(address), `Ended every session of ${address}.`)}>
                End all sessions
              </button>
            )}
          </div>
          <Scroll label="Sessions">
            <table>
              <caption class="sr-only">Sessions of {address}</caption>
              <Head columns={['Resource', 'Protocol', 'Since', 'Presence']} actions />
              <tbody>
                {u.sessions.map((s) => (
                  <tr key={s.id}>
                    <th scope="row">{s.resource}</th>
                    <td>{PROTOCOLS[s.protocol] ?? s.protocol}</td>
                    <td>{when(s.openedAt)}</td>
                    <td>{[s.presence.availability, s.presence.activity, s.presence.status].filter(Boolean).join(' · ')}</td>
                    <td>
                      <button type="button" aria-label={`End session ${s.resource}`} onClick={() => void act(() => api().endSession(address, s.resource), `Ended session ${s.resource}.`)}>
                        End session
                      </button>
                    </td>
                  </tr>
                ))}
                {u.sessions.length === 0 && (
                  <tr>
                    <td colSpan={5} class="empty">
                      No sessions.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Scroll>
        </>
      )}
    </Page>
  );
}
