/**
 * Small pieces every page of the console uses: loading a call's answer, showing a failure (or that a module is
 * off), a confirmation dialog, a link that routes inside the page, dates, and running an action with its outcome
 * announced.
 */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { AdminApiError } from '../../client/admin.js';
import { messageOf } from '../shared/web-session.js';
import { navigate, notice, onRefused } from './context.js';

/** What a load gives a page. */
export interface Loaded<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `fn` when `deps` change (and on reload), keeping its answer or its failure. */
export function useLoad<T>(fn: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    fn()
      .then((d) => {
        if (!live) return;
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        onRefused(e);
        if (live) setError(e);
      })
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // `fn` is a new closure each render; `deps` say when its answer changes.
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Whether a failure means the module behind the call is off (its routes do not exist). */
export const moduleOff = (e: unknown): boolean => e instanceof AdminApiError && e.moduleOff;

/** A failure as the reader sees it: "not enabled" for a module that is off, else the server's message. */
export function Failure({ error, module }: { error: unknown; module?: string }) {
  if (error === null || error === undefined) return null;
  if (moduleOff(error)) {
    return (
      <p class="off" role="status">
        {module === undefined ? 'This module is not enabled on this server.' : `The ${module} module is not enabled on this server.`}
      </p>
    );
  }
  return (
    <p class="error" role="alert">
      {messageOf(error)}
    </p>
  );
}

/** A page's heading and body. */
export function Page({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Parley admin`;
  }, [title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">{title}</h1>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** A link to a route of the console, followed without reloading the page. */
export function Link({ href, children, class: cls, current }: { href: string; children: ComponentChildren; class?: string; current?: boolean }) {
  return (
    <a
      href={href}
      class={cls}
      aria-current={current === true ? 'page' : undefined}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

/** A date and time in the reader's locale (ISO-like, so columns line up). */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** What useAction gives a page. */
export interface Action {
  busy: boolean;
  error: unknown;
  run: (fn: () => Promise<unknown>, done: string) => Promise<boolean>;
  clear: () => void;
}

/**
 * An action's runner: `run(fn, done)` calls fn, announces `done` (a sentence) or shows the failure; `error` is
 * the last failure, for the form that made the call.
 */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<unknown>, done: string): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      notice.value = done;
      return true;
    } catch (e) {
      onRefused(e);
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(null) };
}

/**
 * The submit handler of a form that adds something: `what` reads the form's data and gives the call to run and
 * the sentence to announce when it worked; once it has, the form is cleared and `after` runs (the list reloads).
 */
export function formAction(action: Action, what: (f: FormData) => [run: () => Promise<unknown>, done: string], after: () => void) {
  return (e: { preventDefault(): void; currentTarget: HTMLFormElement }): void => {
    e.preventDefault();
    const form = e.currentTarget;
    const [run, done] = what(new FormData(form));
    void action.run(run, done).then((ok) => {
      if (!ok) return;
      form.reset();
      after();
    });
  };
}

/**
 * A button that asks before it acts: a modal dialog (the browser's own, so focus stays inside and Escape
 * cancels) that says what will happen.
 */
export function ConfirmButton({ label, title, message, confirm, onConfirm, danger = true, children }: {
  label: string;
  title: string;
  message: string;
  confirm: string;
  onConfirm: (form: FormData) => void;
  danger?: boolean;
  /** Fields of the dialog's form (a reason), handed to onConfirm. */
  children?: ComponentChildren;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (open) dialog.current?.showModal();
  }, [open]);
  return (
    <>
      <button type="button" class={danger ? 'danger' : undefined} onClick={() => setOpen(true)}>
        {label}
      </button>
      {open && (
        <dialog ref={dialog} aria-labelledby="confirm-title" onClose={() => setOpen(false)}>
          <form
            method="dialog"
            onSubmit={(e) => {
              const submitter = (e as SubmitEvent).submitter as HTMLButtonElement | null;
              if (submitter?.value === 'yes') onConfirm(new FormData(e.currentTarget));
            }}
          >
            <h2 id="confirm-title">{title}</h2>
            <p>{message}</p>
            {children}
            <div class="row">
              <button type="submit" value="yes" class={danger ? 'danger' : 'primary'}>
                {confirm}
              </button>
              <button type="submit" value="no">
                Cancel
              </button>
            </div>
          </form>
        </dialog>
      )}
    </>
  );
}

/**
 * The console's confirm-then-act block: a ConfirmButton whose confirmation runs `act` (handed the dialog's
 * fields) through the page's `action`, which announces `done` or keeps the failure for the page to show; `after`
 * runs only when it succeeded (a reload, leaving the page).
 */
export function ConfirmAction({ action, act, done, after, ...button }: Omit<Parameters<typeof ConfirmButton>[0], 'onConfirm'> & {
  action: Action;
  act: (form: FormData) => Promise<unknown>;
  done: string;
  after?: () => void;
}) {
  return (
    <ConfirmButton
      {...button}
      onConfirm={(form) =>
        void action.run(() => act(form), done).then((ok) => {
          if (ok) after?.();
        })
      }
    />
  );
}

/** Previous/next paging by cursor: `cursors` is the stack of cursors of the pages seen. */
export function usePager<C>(): { cursor: C | null; page: number; next: (c: C) => void; back: () => void; reset: () => void } {
  const [stack, setStack] = useState<Array<C | null>>([null]);
  return {
    cursor: stack[stack.length - 1] ?? null,
    page: stack.length,
    next: (c) => setStack((s) => [...s, c]),
    back: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([null]),
  };
}

/** The previous/next buttons of a paged list. */
export function Pager({ page, hasNext, onBack, onNext, label }: { page: number; hasNext: boolean; onBack: () => void; onNext: () => void; label: string }) {
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={page <= 1} onClick={onBack}>
        Previous page
      </button>
      <span>Page {page}</span>
      <button type="button" disabled={!hasNext} onClick={onNext}>
        Next page
      </button>
    </nav>
  );
}

/** A table's scroll box at narrow widths: focusable, so keyboard users can scroll it too (WCAG 2.1.1). */
export function Scroll({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/**
 * A table's header row: a column header for each of `columns`, and with `actions` a last one for the rows'
 * buttons, named for screen readers only.
 */
export function Head({ columns, actions = false }: { columns: readonly string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th scope="col" key={c}>
            {c}
          </th>
        ))}
        {actions && (
          <th scope="col">
            <span class="sr-only">Actions</span>
          </th>
        )}
      </tr>
    </thead>
  );
}

