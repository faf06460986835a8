/**
 * Shared groups: each group with its members (everyone in a group sees the others' presence); create, rename,
 * add or remove a member, delete.
 */
import type { SharedGroup } from '../../client/admin.js';
import { api } from './context.js';
import { ConfirmAction, Failure, formAction, Page, useAction, useLoad } from './ui.js';

function Group({ g, onChange }: { g: SharedGroup; onChange: () => void }) {
  const action = useAction();
  const id = `group-${g.name.replace(/[^a-z0-9_-]/gi, '-')}`;
  const act = (fn: () => Promise<unknown>, done: string, form?: HTMLFormElement): void =>
    void action.run(fn, done).then((ok) => {
      if (!ok) return;
      form?.reset();
      onChange();
    });
  return (
    <article class="card" aria-labelledby={`${id}-title`}>
      <div class="page-head">
        <h2 id={`${id}-title`}>
          {g.displayName || g.name} <span class="muted">({g.name})</span>
        </h2>
        <ConfirmAction
          label={`Delete group ${g.name}`}
          title={`Delete the group ${g.name}?`}
          message="Its members stop seeing one another through this group. The accounts stay."
          confirm="Delete group"
          action={action}
          act={() => api().deleteGroup(g.name)}
          done={`Deleted the group ${g.name}.`}
          after={onChange}
        />
      </div>
      <ul class="plain-list" aria-label={`Members of ${g.name}`}>
        {g.members.map((m) => (
          <li key={m}>
            <span>{m}</span>
            <button type="button" aria-label={`Remove ${m} from ${g.name}`} onClick={() => act(() => api().removeGroupMember(g.name, m), `Removed ${m} from ${g.name}.`)}>
              Remove
            </button>
          </li>
        ))}
        {g.members.length === 0 && <li class="empty">No members.</li>}
      </ul>
      <div class="row">
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            const user = String(new FormData(e.currentTarget).get('user')).trim();
            act(() => api().addGroupMember(g.name, user), `Added ${user} to ${g.name}.`, e.currentTarget);
          }}
        >
          <label for={`${id}-add`}>Add member to {g.name}</label>
          <input id={`${id}-add`} name="user" required placeholder="name@company.com" />
          <button type="submit">Add</button>
        </form>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            const displayName = String(new FormData(e.currentTarget).get('displayName')).trim();
            act(() => api().renameGroup(g.name, displayName), `Renamed ${g.name} to ${displayName}.`);
          }}
        >
          <label for={`${id}-name`}>Display name of {g.name}</label>
          <input id={`${id}-name`} name="displayName" required defaultValue={g.displayName} />
          <button type="submit">Rename</button>
        </form>
      </div>
      <Failure error={action.error} />
    </article>
  );
}

/** The shared groups page. */
export function GroupsPage() {
  const list = useLoad(() => api().listGroups(), []);
  const action = useAction();
  return (
    <Page title="Shared groups">
      <Failure error={list.error} />
      {list.data?.groups.map((g) => <Group key={g.name} g={g} onChange={list.reload} />)}
      {list.data?.groups.length === 0 && <p class="empty">No shared groups yet.</p>}
      <form
        class="card inline-form"
        aria-labelledby="new-group-title"
        onSubmit={formAction(
          action,
          (f) => {
            const name = String(f.get('name')).trim();
            const displayName = String(f.get('displayName')).trim();
            return [() => api().createGroup(name, displayName || undefined), `Created the group ${name}.`];
          },
          list.reload,
        )}
      >
        <h2 id="new-group-title">New shared group</h2>
        <label for="group-name">Name</label>
        <input id="group-name" name="name" required placeholder="sales" />
        <label for="group-display">Display name</label>
        <input id="group-display" name="displayName" placeholder="Sales team" />
        <button type="submit" class="primary">
          Create group
        </button>
        <Failure error={action.error} />
      </form>
    </Page>
  );
}
