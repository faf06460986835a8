/**
 * Policies: every module's live settings as forms generated from the JSON Schema the server sends; the server
 * validates a change and its error shows next to the field it names. Settings changed here override the
 * configuration file until reset. The compliance archive's retention and supervision lexicons have an entry of
 * their own (its routes, for administrators who are also compliance officers: the archive refuses anyone else).
 */
import { useEffect, useState } from 'preact/hooks';
import { AdminApiError, type ModuleSettings } from '../../client/admin.js';
import { messageOf } from '../shared/web-session.js';
import { ArchivePolicies } from './archive-policies.js';
import { api, hrefOf } from './context.js';
import { SchemaField, labelOf, setAt, type FormContext, type Path } from './schema-form.js';
import { Failure, Link, Page, useAction, useLoad } from './ui.js';

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The server's error path as dotted text, without a leading `values`. */
function pathText(e: AdminApiError): string | null {
  if (e.path === null) return null;
  const p = e.path.map(String);
  return (p[0] === 'values' ? p.slice(1) : p).join('.');
}

function ModuleForm({ settings, onSaved }: { settings: ModuleSettings; onSaved: () => void }) {
  const [values, setValues] = useState<unknown>(settings.values);
  // What the server said last: fresh settings replace the form's values only where the reader has not edited
  // since, so a reload after a save never wipes what was typed meanwhile.
  const [base, setBase] = useState<unknown>(settings.values);
  const action = useAction();
  useEffect(() => {
    setValues((cur: unknown) => (same(cur, base) ? settings.values : cur));
    setBase(settings.values);
  }, [settings]);
  const failed = action.error instanceof AdminApiError ? action.error : null;
  const errPath = failed === null ? null : pathText(failed);
  const keys = Object.keys(settings.schema.properties ?? {}).filter((k) => settings.live.includes(k));
  const ctx: FormContext = {
    root: settings.schema,
    idBase: `set-${settings.module}`,
    values,
    onChange: (path: Path, v: unknown) => setValues((old: unknown) => setAt(old, path, v)),
    // The message names the option (`modules.naming.default.localPattern: …`); beside its field the name is said.
    errorAt: (path) => (errPath !== null && errPath === path.join('.') ? messageOf(failed).replace(/^modules\.[^:]*: /, '') : null),
  };
  const fieldShown = errPath !== null && keys.some((k) => errPath === k || errPath.startsWith(`${k}.`));
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    const changed: Record<string, unknown> = {};
    const now = values as Record<string, unknown>;
    for (const k of keys) if (!same(now[k], settings.values[k])) changed[k] = now[k];
    if (Object.keys(changed).length === 0) return;
    if (await action.run(() => api().putSettings(settings.module, changed), `Saved the ${settings.module} settings.`)) onSaved();
  };
  return (
    <form class="card settings" onSubmit={save} aria-labelledby="module-title" noValidate>
      <h2 id="module-title">{labelOf(settings.module)}</h2>
      {settings.summary && <p class="muted">{settings.summary}</p>}
      {!settings.enabled && <p class="off">This module is not enabled on this server; its settings apply once it is.</p>}
      {keys.length === 0 ? (
        <p class="muted">These settings are read when the server starts: change them in the configuration file.</p>
      ) : (
        <>
          {keys.map((k) => (
            <div key={k} class="setting">
              <SchemaField ctx={ctx} path={[k]} schema={settings.schema.properties![k]!} label={labelOf(k)} />
              {settings.overridden.includes(k) && (
                <button type="button" class="link-button" onClick={() => void action.run(() => api().resetSetting(settings.module, k), `${labelOf(k)} is back to its configured value.`).then((ok) => ok && onSaved())}>
                  Reset {labelOf(k).toLowerCase()} to the configured value
                </button>
              )}
            </div>
          ))}
          {failed !== null && !fieldShown && <Failure error={failed} />}
          {action.error !== null && failed === null && <Failure error={action.error} />}
          <div class="row">
            <button type="submit" class="primary" disabled={action.busy}>
              Save {settings.module} settings
            </button>
            <button type="button" onClick={() => (setValues(base), action.clear())}>
              Undo changes
            </button>
          </div>
        </>
      )}
    </form>
  );
}

/** The submenu entry of the archive's own policies (its routes, not a module's live settings). */
const ARCHIVE_ENTRY = 'archive-retention';

/** The policies page; `module` is the module whose form is open. */
export function PoliciesPage({ module }: { module: string | null }) {
  const all = useLoad(() => api().listSettings(), []);
  const modules = all.data?.modules ?? [];
  const archive = module === ARCHIVE_ENTRY;
  const open = archive ? undefined : (modules.find((m) => m.module === module) ?? modules.find((m) => m.enabled) ?? modules[0]);
  return (
    <Page title="Policies">
      <Failure error={all.error} />
      {all.data !== null && (
        <div class="split">
          <nav aria-label="Modules" class="submenu">
            <ul>
              {modules.map((m) => (
                <li key={m.module}>
                  <Link href={hrefOf('policies', m.module)} current={m === open}>
                    {labelOf(m.module)}
                    {m.enabled ? '' : ' (off)'}
                  </Link>
                </li>
              ))}
              <li>
                <Link href={hrefOf('policies', ARCHIVE_ENTRY)} current={archive}>
                  Archive retention and lexicons
                </Link>
              </li>
            </ul>
          </nav>
          <div class="stack">
            {open !== undefined && <ModuleForm key={open.module} settings={open} onSaved={all.reload} />}
            {/* The archive's routes answer 404 when it is off and 403 to anyone but its compliance officers. */}
            {archive && <ArchivePolicies />}
          </div>
        </div>
      )}
    </Page>
  );
}
