/** Legal holds (compliance officers): what is held from retention, placed on a person or a room, and released. */
import { useState } from 'preact/hooks';
import type { Hold } from '../../client/admin.js';
import { api } from './context.js';
import { ConfirmAction, Failure, formAction, Head, Page, Scroll, useAction, useLoad, when } from './ui.js';

const scopeOf = (h: Hold): string =>
  h.scope.kind === 'person' ? `person ${h.scope.address}` : h.scope.kind === 'room' ? `room ${h.scope.room}` : `search ${JSON.stringify(h.scope.search)}`;

/** The legal holds page. */
export function HoldsPage() {
  const [all, setAll] = useState(false);
  const list = useLoad(() => api().listHolds(all), [all]);
  const action = useAction();
  // Placing has its own outcome, said inside its form rather than above the table.
  const placing = useAction();
  return (
    <Page title="Legal holds">
      <label class="check">
        <input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} /> Show released holds too
      </label>
      <Failure error={list.error} module="archive" />
      <Failure error={action.error} />
      {list.data !== null && (
        <Scroll label="Legal holds">
          <table>
            <caption class="sr-only">Legal holds</caption>
            <Head columns={['Held', 'Reason', 'Placed', 'State']} actions />
            <tbody>
              {list.data.holds.map((h) => (
                <tr key={h.id}>
                  <th scope="row">{scopeOf(h)}</th>
                  <td>{h.reason}</td>
                  <td>
                    {when(h.createdAt)} by {h.createdBy}
                  </td>
                  <td>{h.releasedAt === null ? 'Active' : `Released ${when(h.releasedAt)} by ${h.releasedBy ?? 'system'}`}</td>
                  <td>
                    {h.releasedAt === null && (
                      <ConfirmAction
                        label={`Release hold on ${scopeOf(h)}`}
                        title="Release this hold?"
                        message={`Retention applies again to ${scopeOf(h)}: what is past its time may then be removed.`}
                        confirm="Release hold"
                        action={action}
                        act={() => api().releaseHold(h.id)}
                        done={`Released the hold on ${scopeOf(h)}.`}
                        after={list.reload}
                      />
                    )}
                  </td>
                </tr>
              ))}
              {list.data.holds.length === 0 && (
                <tr>
                  <td colSpan={5} class="empty">
                    No holds.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </Scroll>
      )}
      <form
        class="card filters"
        aria-labelledby="hold-title"
        onSubmit={formAction(
          placing,
          (f) => {
            const who = String(f.get('who')).trim();
            const body = { [String(f.get('kind'))]: who, reason: String(f.get('reason')).trim() } as { person?: string; room?: string; reason: string };
            return [() => api().placeHold(body), `Placed a hold on ${who}.`];
          },
          list.reload,
        )}
      >
        <h2 id="hold-title">Place a hold</h2>
        {/* Each label stays with its field when the row wraps at phone width. */}
        <div class="field">
          <label for="hold-kind">On</label>
          <select id="hold-kind" name="kind">
            <option value="person">A person</option>
            <option value="room">A room</option>
          </select>
        </div>
        <div class="field">
          <label for="hold-who">Address</label>
          <input id="hold-who" name="who" required />
        </div>
        <div class="field">
          <label for="hold-reason">Reason</label>
          <input id="hold-reason" name="reason" required placeholder="Matter or inquiry" />
        </div>
        <button type="submit" class="primary" disabled={placing.busy}>
          Place hold
        </button>
        <Failure error={placing.error} />
      </form>
    </Page>
  );
}
