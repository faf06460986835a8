/**
 * The review queue (supervision reviewers): messages a lexicon flagged or a sample picked, with why; each is
 * marked reviewed or escalated with a comment. Reading the queue is journaled.
 */
import { useState } from 'preact/hooks';
import type { ReviewItem } from '../../client/admin.js';
import { api } from './context.js';
import { Failure, Page, useAction, useLoad, when } from './ui.js';

const why = (r: ReviewItem): string => r.reasons.map((x) => (x.kind === 'sample' ? 'random sample' : `${x.name}: "${x.term}"`)).join(', ');

/** What a reviewer reads of an entry: its body when it has one, else the entry itself. */
function contentOf(entry: string | null): string {
  if (entry === null) return '(content expired)';
  try {
    const e = JSON.parse(entry) as { body?: unknown; from?: unknown; actor?: unknown };
    const from = typeof e.from === 'string' ? e.from : typeof e.actor === 'string' ? e.actor : null;
    return typeof e.body === 'string' ? `${from === null ? '' : `${from}: `}${e.body}` : entry;
  } catch {
    return entry;
  }
}

function Item({ item, onDone }: { item: ReviewItem; onDone: () => void }) {
  const action = useAction();
  const id = `review-${item.id}`;
  return (
    <article class="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} class="small">
        Item {item.id} · {item.state} · flagged {when(item.createdAt)}
      </h2>
      <p class="muted">Why: {why(item)}</p>
      <blockquote>{contentOf(item.entry)}</blockquote>
      {item.decidedAt !== null && (
        <p class="muted">
          {item.reviewer}, {when(item.decidedAt)}: {item.comment}
        </p>
      )}
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          const state = (e as SubmitEvent).submitter?.getAttribute('value') === 'escalated' ? 'escalated' : 'reviewed';
          void action.run(() => api().reviewMark(item.id, state, String(f.get('comment')).trim()), `Item ${item.id} ${state}.`).then((ok) => ok && onDone());
        }}
      >
        <label for={`${id}-comment`}>Comment on item {item.id}</label>
        <input id={`${id}-comment`} name="comment" required />
        <button type="submit" value="reviewed">
          Mark reviewed
        </button>
        <button type="submit" value="escalated" class="danger">
          Escalate
        </button>
      </form>
      <Failure error={action.error} />
    </article>
  );
}

/** The review queue page. */
export function ReviewPage() {
  const [state, setState] = useState<'new' | 'reviewed' | 'escalated'>('new');
  const list = useLoad(() => api().reviewQueue({ state, limit: 50 }), [state]);
  return (
    <Page
      title="Review queue"
      actions={
        <div class="row">
          <label for="review-state">Show</label>
          <select id="review-state" value={state} onChange={(e) => setState(e.currentTarget.value as typeof state)}>
            <option value="new">New</option>
            <option value="reviewed">Reviewed</option>
            <option value="escalated">Escalated</option>
          </select>
        </div>
      }
    >
      <Failure error={list.error} module="archive" />
      {list.data?.items.map((i) => <Item key={i.id} item={i} onDone={list.reload} />)}
      {list.data?.items.length === 0 && <p class="empty">Nothing to review.</p>}
    </Page>
  );
}
