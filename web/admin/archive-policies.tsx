/**
 * The compliance archive's policies (its own routes, for compliance officers): retention per domain or room, and
 * the supervision lexicons whose terms put messages in the review queue.
 */
import { AdminApiError } from '../../client/admin.js';
import { messageOf } from '../shared/web-session.js';
import { api } from './context.js';
import { ConfirmAction, Failure, formAction, Page, useAction, useLoad, when } from './ui.js';

const lines = (v: FormDataEntryValue | null): string[] | undefined => {
  const x = String(v ?? '').split('\n').map((s) => s.trim()).filter((s) => s !== '');
  return x.length === 0 ? undefined : x;
};

/** A field of the retention form, with the server's refusal of its value said next to it. */
function RetentionField({ id, name, label, error, number = false, defaultValue }: { id: string; name: string; label: string; error: string | null; number?: boolean; defaultValue?: string }) {
  const invalid = error === null ? undefined : 'true';
  const described = error === null ? undefined : `${id}-error`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {number ? (
        <input id={id} name={name} type="number" min={0} defaultValue={defaultValue} aria-invalid={invalid} aria-describedby={described} />
      ) : (
        <input id={id} name={name} type="text" required defaultValue={defaultValue} aria-invalid={invalid} aria-describedby={described} />
      )}
      {error !== null && (
        <p class="error field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

const RETENTION_FIELDS = ['scope', 'minDays', 'maxDays'];

function Retention() {
  const list = useLoad(() => api().listRetention(), []);
  const action = useAction();
  // The server names the field it refused (`path` in its error, src/modules/archive/retention.ts).
  const field = action.error instanceof AdminApiError && action.error.path !== null ? String(action.error.path[0]) : null;
  const fieldless = field === null || !RETENTION_FIELDS.includes(field);
  const errorAt = (name: string): string | null => (field === name ? messageOf(action.error) : null);
  return (
    <section class="card" aria-labelledby="retention-title">
      <h2 id="retention-title">Retention</h2>
      <Failure error={list.error} module="archive" />
      {list.data !== null && (
        <ul class="plain-list" aria-label="Retention policies">
          {list.data.policies.map((p) => (
            <li key={`${p.kind}-${p.scope}`}>
              <span>
                {p.kind} {p.scope}: at least {p.minDays} days, {p.maxDays === null ? 'kept forever' : `at most ${p.maxDays} days`}
              </span>
              <span class="muted">
                set {when(p.setAt)} by {p.setBy ?? 'the configuration'}
              </span>
            </li>
          ))}
          {list.data.policies.length === 0 && <li class="empty">No policies: the configured defaults apply.</li>}
        </ul>
      )}
      <form
        class="filters"
        aria-labelledby="retention-title"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          const scope = String(f.get('scope')).trim();
          const max = String(f.get('maxDays')).trim();
          const body = { [String(f.get('kind'))]: scope, minDays: Number(f.get('minDays') || 0), maxDays: max === '' ? null : Number(max) };
          void action.run(() => api().setRetention(body as { minDays: number; maxDays: number | null }), `Retention set for ${scope}.`).then((ok) => ok && list.reload());
        }}
      >
        <div class="field">
          <label for="ret-kind">Applies to</label>
          <select id="ret-kind" name="kind">
            <option value="domain">Domain</option>
            <option value="room">Room</option>
          </select>
        </div>
        <RetentionField id="ret-scope" name="scope" label="Domain or room address" error={errorAt('scope')} />
        <RetentionField id="ret-min" name="minDays" label="Keep at least (days)" error={errorAt('minDays')} number defaultValue="0" />
        <RetentionField id="ret-max" name="maxDays" label="Keep at most (days, empty: forever)" error={errorAt('maxDays')} number />
        <button type="submit">Set retention</button>
      </form>
      {fieldless && <Failure error={action.error} />}
    </section>
  );
}

function Lexicons() {
  const list = useLoad(() => api().listLexicons(), []);
  const action = useAction();
  return (
    <section class="card" aria-labelledby="lexicons-title">
      <h2 id="lexicons-title">Supervision lexicons</h2>
      <Failure error={list.error} module="archive" />
      {list.data !== null && (
        <ul class="plain-list" aria-label="Lexicons">
          {list.data.lexicons.map((l) => (
            <li key={l.id}>
              <span>
                <strong>{l.name}</strong> ({l.scope.kind === 'all' ? 'everyone' : l.scope.kind === 'domain' ? `domain ${l.scope.domain}` : `group ${l.scope.group}`}):{' '}
                {[...(l.terms.words ?? []), ...(l.terms.phrases ?? []).map((p) => `"${p}"`), ...(l.terms.patterns ?? []).map((p) => `/${p}/`)].join(', ')}
              </span>
              <ConfirmAction
                label={`Remove lexicon ${l.name}`}
                title={`Remove the lexicon ${l.name}?`}
                message="New messages are no longer flagged for its terms; items already in the queue stay."
                confirm="Remove lexicon"
                action={action}
                act={() => api().removeLexicon(l.id)}
                done={`Removed the lexicon ${l.name}.`}
                after={list.reload}
              />
            </li>
          ))}
          {list.data.lexicons.length === 0 && <li class="empty">No lexicons.</li>}
        </ul>
      )}
      <form
        class="form-grid"
        onSubmit={formAction(
          action,
          (f) => {
            const scope = String(f.get('scope')).trim();
            const body = { name: String(f.get('name')).trim(), words: lines(f.get('words')), phrases: lines(f.get('phrases')), patterns: lines(f.get('patterns')), ...(scope === '' ? {} : f.get('scopeKind') === 'group' ? { group: scope } : { domain: scope }) };
            return [() => api().addLexicon(body), `Added the lexicon ${body.name}.`];
          },
          list.reload,
        )}
      >
        <h3>New lexicon</h3>
        <label for="lex-name">Name</label>
        <input id="lex-name" name="name" required />
        <label for="lex-scope-kind">Applies to</label>
        <select id="lex-scope-kind" name="scopeKind">
          <option value="domain">A domain (empty: everyone)</option>
          <option value="group">A shared group</option>
        </select>
        <label for="lex-scope">Domain or group</label>
        <input id="lex-scope" name="scope" />
        <label for="lex-words">Words (one per line)</label>
        <textarea id="lex-words" name="words" rows={3} />
        <label for="lex-phrases">Phrases (one per line)</label>
        <textarea id="lex-phrases" name="phrases" rows={2} />
        <label for="lex-patterns">Patterns (regular expressions, one per line)</label>
        <textarea id="lex-patterns" name="patterns" rows={2} />
        <button type="submit" class="primary">
          Add lexicon
        </button>
      </form>
      <Failure error={action.error} />
    </section>
  );
}

/** Retention and lexicons, as a block (the Policies page shows it too). */
export function ArchivePolicies() {
  return (
    <>
      <Retention />
      <Lexicons />
    </>
  );
}

/** The compliance officers' page of retention and lexicons. */
export function ArchivePoliciesPage() {
  return (
    <Page title="Retention and lexicons">
      <ArchivePolicies />
    </Page>
  );
}
