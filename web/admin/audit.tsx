/** Audit log: who changed what and when, newest first, filtered by type, actor, subject and dates, page by page. */
import { useState } from 'preact/hooks';
import { api } from './context.js';
import { Failure, Head, Page, Pager, Scroll, useLoad, usePager, when } from './ui.js';

interface Filters {
  type?: string;
  actor?: string;
  subject?: string;
  from?: number;
  to?: number;
}

/** A date field's day as epoch milliseconds in the reader's time zone: its start, or (for `to`) its end. */
const dayMs = (day: string, end: boolean): number => new Date(`${day}T00:00:00`).getTime() + (end ? 86_400_000 - 1 : 0);

const summary = (data: unknown): string => {
  if (data === null || data === undefined) return '';
  const s = JSON.stringify(data);
  return s === '{}' ? '' : s.length > 160 ? `${s.slice(0, 157)}…` : s;
};

/** The audit log page. */
export function AuditPage() {
  const [filters, setFilters] = useState<Filters>({});
  const pager = usePager<number>();
  const log = useLoad(() => api().audit({ ...filters, before: pager.cursor, limit: 50 }), [filters, pager.cursor]);
  const field = (name: keyof Filters, label: string, type: 'text' | 'date' = 'text') => (
    <div class="field">
      <label for={`audit-${name}`}>{label}</label>
      {type === 'date' ? (
        <input id={`audit-${name}`} name={name} type="date" />
      ) : (
        // A type is matched exactly, or by a prefix ending in * (account.* for every account change).
        <input id={`audit-${name}`} name={name} type="text" placeholder={name === 'type' ? 'account.*' : undefined} />
      )}
    </div>
  );
  return (
    <Page title="Audit log">
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          const v: Filters = {};
          for (const k of ['type', 'actor', 'subject'] as const) {
            const x = String(f.get(k) ?? '').trim();
            if (x !== '') v[k] = x;
          }
          for (const k of ['from', 'to'] as const) {
            const x = String(f.get(k) ?? '');
            if (x !== '') v[k] = dayMs(x, k === 'to');
          }
          setFilters(v);
          pager.reset();
        }}
      >
        {field('type', 'Type')}
        {field('actor', 'Actor')}
        {field('subject', 'Subject')}
        {field('from', 'From', 'date')}
        {field('to', 'To', 'date')}
        <button type="submit">Filter</button>
      </form>
      <Failure error={log.error} />
      {log.data !== null && (
        <>
          <Scroll label="Audit entries">
            <table class="audit">
              <caption class="sr-only">Audit entries</caption>
              <Head columns={['When', 'Type', 'Actor', 'Subject', 'Details']} />
              <tbody>
                {log.data.entries.map((x) => (
                  <tr key={x.id}>
                    <td>{when(x.at)}</td>
                    <td>{x.type}</td>
                    <td>{x.actor ?? '—'}</td>
                    <td>{x.subject ?? '—'}</td>
                    <td class="data">{summary(x.data)}</td>
                  </tr>
                ))}
                {log.data.entries.length === 0 && (
                  <tr>
                    <td colSpan={5} class="empty">
                      Nothing recorded matches.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Scroll>
          <Pager label="Audit log" page={pager.page} hasNext={log.data.next !== null} onBack={pager.back} onNext={() => log.data?.next != null && pager.next(log.data.next)} />
        </>
      )}
    </Page>
  );
}
