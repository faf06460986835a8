/**
 * The admin console: sign in through the web session, ask the server who the reader is (`/api/v1/admin/me`),
 * then show the pages that reader may use: administrators every page; compliance officers the archive's;
 * supervision reviewers the review queue; anyone else a "no access" page. The server checks every call anyway:
 * hiding a page only spares the reader a refusal.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { SignIn } from '../shared/sign-in.js';
import { currentIdentity, messageOf, signOut } from '../shared/web-session.js';
import { ArchivePage } from './archive.js';
import { ArchivePoliciesPage } from './archive-policies.js';
import { AuditPage } from './audit.js';
import { api, hrefOf, identity, me, notice, resetApi, route, type Me } from './context.js';
import { DomainsPage } from './domains.js';
import { GroupsPage } from './groups.js';
import { HealthPage } from './health.js';
import { HoldsPage } from './holds.js';
import { KeysPage } from './keys.js';
import { PoliciesPage } from './policies.js';
import { ReviewPage } from './review.js';
import { RoomsPage } from './rooms.js';
import { UsagePage } from './usage.js';
import { UserPage } from './user.js';
import { UsersPage } from './users.js';
import { Link } from './ui.js';

/** Who may see a page. */
type Audience = 'admin' | 'officer' | 'reviewer';

interface PageDef {
  path: string;
  title: string;
  audience: Audience;
  view: (rest: string[]) => ComponentChildren;
}

const PAGES: readonly PageDef[] = [
  { path: 'users', title: 'Users', audience: 'admin', view: (rest) => (rest[0] === undefined ? <UsersPage /> : <UserPage address={rest[0]} />) },
  { path: 'domains', title: 'Domains', audience: 'admin', view: () => <DomainsPage /> },
  { path: 'groups', title: 'Shared groups', audience: 'admin', view: () => <GroupsPage /> },
  { path: 'rooms', title: 'Rooms', audience: 'admin', view: (rest) => <RoomsPage open={rest[0] ?? null} /> },
  { path: 'usage', title: 'Usage', audience: 'admin', view: () => <UsagePage /> },
  { path: 'audit', title: 'Audit log', audience: 'admin', view: () => <AuditPage /> },
  { path: 'policies', title: 'Policies', audience: 'admin', view: (rest) => <PoliciesPage module={rest[0] ?? null} /> },
  { path: 'keys', title: 'API keys and webhooks', audience: 'admin', view: () => <KeysPage /> },
  { path: 'health', title: 'Health', audience: 'admin', view: () => <HealthPage /> },
  { path: 'archive', title: 'Archive search', audience: 'officer', view: () => <ArchivePage /> },
  { path: 'holds', title: 'Legal holds', audience: 'officer', view: () => <HoldsPage /> },
  { path: 'archive-policies', title: 'Retention and lexicons', audience: 'officer', view: () => <ArchivePoliciesPage /> },
  { path: 'review', title: 'Review queue', audience: 'reviewer', view: () => <ReviewPage /> },
];

/** The pages a reader may use, in menu order. */
export function pagesFor(m: Me): PageDef[] {
  const may = (a: Audience): boolean =>
    a === 'admin' ? m.admin : a === 'officer' ? m.roles.includes('compliance-officer') : m.roles.includes('supervision-reviewer');
  return PAGES.filter((p) => may(p.audience));
}

async function out(): Promise<void> {
  const id = identity.value;
  if (id !== null) await signOut(id.csrf).catch(() => undefined);
  identity.value = null;
  me.value = null;
  resetApi();
}

function NoAccess({ address }: { address: string }) {
  return (
    <main class="signin">
      <section class="no-access" aria-labelledby="no-access-title">
        <h1 id="no-access-title">No access</h1>
        <p>
          {address} is signed in, but the admin console is for administrators, compliance officers and supervision reviewers. Ask your
          administrator if you need access.
        </p>
        <div class="row">
          <a href="/">Open the Parley client</a>
          <button type="button" onClick={() => void out()}>
            Sign out
          </button>
        </div>
      </section>
    </main>
  );
}

function Console({ who }: { who: Me }) {
  const pages = pagesFor(who);
  const [first, ...rest] = route.value;
  const current = pages.find((p) => p.path === first);
  useEffect(() => {
    // A reader who opened /admin or a page they may not use lands on their first page.
    if (current === undefined && pages[0] !== undefined) history.replaceState(null, '', hrefOf(pages[0].path));
  }, [current, pages]);
  const shown = current ?? pages[0]!;
  return (
    <div class="console">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">Parley admin</span>
        <span class="who">{who.address}</span>
        <button type="button" onClick={() => void out()}>
          Sign out
        </button>
      </header>
      <nav class="menu" aria-label="Console">
        <ul>
          {pages.map((p) => (
            <li key={p.path}>
              <Link href={hrefOf(p.path)} current={p === shown}>
                {p.title}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {shown.view(current === undefined ? [] : rest)}
      </main>
      <div class="sr-only" role="status" aria-live="polite">
        {notice.value}
      </div>
    </div>
  );
}

/** The whole console. */
export function App() {
  const [checked, setChecked] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const learn = async (): Promise<void> => {
    setError(null);
    try {
      me.value = await api().me();
    } catch (e) {
      setError(messageOf(e));
    }
  };
  useEffect(() => {
    currentIdentity()
      .then(async (id) => {
        identity.value = id;
        if (id !== null) await learn();
      })
      .catch((e: unknown) => setError(messageOf(e)))
      .finally(() => setChecked(true));
  }, []);
  if (!checked) return <p class="loading">Loading…</p>;
  if (identity.value === null) {
    return (
      <SignIn
        title="Sign in to Parley admin"
        onSignedIn={(id) => {
          resetApi();
          identity.value = id;
          void learn();
        }}
      />
    );
  }
  if (me.value === null) {
    return (
      <main class="signin">
        <section class="no-access" aria-labelledby="no-access-title">
          <h1 id="no-access-title">Parley admin</h1>
          {error === null ? <p>Loading…</p> : <p role="alert" class="error">{error}</p>}
          <button type="button" onClick={() => void out()}>
            Sign out
          </button>
        </section>
      </main>
    );
  }
  return pagesFor(me.value).length === 0 ? <NoAccess address={me.value.address} /> : <Console who={me.value} />;
}
