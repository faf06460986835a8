/**
 * Archive search (compliance officers): search the compliance archive by participant, room, domain, dates and
 * keywords, page by page, and download everything the filters match as an export bundle (a tar of RFC 5322
 * messages with the proofs that verify them, docs/archive-search.md). Every search and export is journaled.
 */
import { useState } from 'preact/hooks';
import type { ArchiveFilters, ArchiveHit } from '../../client/admin.js';
import { api } from './context.js';
import { Failure, Head, Page, Pager, Scroll, useAction, useLoad, usePager, when } from './ui.js';

const FIELDS: Array<[keyof ArchiveFilters, string, 'text' | 'date']> = [
  ['keywords', 'Keywords', 'text'],
  ['participant', 'Participant', 'text'],
  ['room', 'Room', 'text'],
  ['domain', 'Domain', 'text'],
  ['from', 'From', 'date'],
  ['to', 'To', 'date'],
];

/** Saves a blob under a name (the browser's download). */
function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The archive search page. */
export function ArchivePage() {
  const [filters, setFilters] = useState<ArchiveFilters | null>(null);
  const pager = usePager<number>();
  // Each search is journaled: nothing is searched until the officer asks.
  const search = useLoad<{ hits: ArchiveHit[]; next: number | null } | null>(
    () => (filters === null ? Promise.resolve(null) : api().archiveSearch({ ...filters, before: pager.cursor, limit: 50 })),
    [filters, pager.cursor],
  );
  const hits = search.data;
  const exporter = useAction();
  return (
    <Page title="Archive search">
      <form
        class="filters"
        role="search"
        aria-label="Archive"
        onSubmit={(e) => {
          e.preventDefault();
          const data = new FormData(e.currentTarget);
          const f: ArchiveFilters = {};
          for (const [k] of FIELDS) {
            const v = String(data.get(k) ?? '').trim();
            if (v !== '') f[k] = v;
          }
          setFilters(f);
          pager.reset();
        }}
      >
        {FIELDS.map(([k, label, type]) => (
          <div class="field" key={k}>
            <label for={`arch-${k}`}>{label}</label>
            {type === 'date' ? <input id={`arch-${k}`} name={k} type="date" /> : <input id={`arch-${k}`} name={k} type="text" />}
          </div>
        ))}
        <button type="submit" class="primary" disabled={search.loading && filters !== null}>
          Search
        </button>
        <button
          type="button"
          disabled={filters === null || exporter.busy}
          onClick={() =>
            filters !== null &&
            void exporter.run(async () => {
              const x = await api().archiveExport(filters);
              download(x.blob, x.filename);
            }, 'Export downloaded.')
          }
        >
          {exporter.busy ? 'Exporting…' : 'Download export'}
        </button>
      </form>
      <Failure error={search.error} module="archive" />
      <Failure error={exporter.error} module="archive" />
      {hits !== null && (
        <>
          <Scroll label="Search results">
            <table>
              <caption class="sr-only">Search results</caption>
              <Head columns={['When', 'Type', 'From', 'Conversation', 'Content']} />
              <tbody>
                {hits.hits.map((h) => (
                  <tr key={h.index}>
                    <td>{when(h.ts)}</td>
                    <td>{h.type}</td>
                    <td>{h.actor ?? '—'}</td>
                    <td>{h.conv ?? h.subject ?? '—'}</td>
                    <td class="data">{h.body ?? '(content expired)'}</td>
                  </tr>
                ))}
                {hits.hits.length === 0 && (
                  <tr>
                    <td colSpan={5} class="empty">
                      Nothing in the archive matches.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Scroll>
          <Pager
            label="Results"
            page={pager.page}
            hasNext={hits.next !== null}
            onBack={pager.back}
            onNext={() => hits.next !== null && pager.next(hits.next)}
          />
        </>
      )}
    </Page>
  );
}
