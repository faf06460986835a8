/**
 * A form generated from the JSON Schema a module's settings come with (draft 2020-12, as zod writes it): strings,
 * numbers, booleans, choices, nullable values (an empty field is null), lists of strings (one per line), nested
 * objects, and records of objects (naming's rules per domain: one group per key, added and removed here). The
 * server validates; its error lands next to the field its `path` names.
 */
import type { ComponentChildren } from 'preact';
import type { JsonSchema } from '../../client/admin.js';

/** A path into the values (object keys). */
export type Path = ReadonlyArray<string>;

/** The JSON value at a path (undefined when absent). */
function getAt(v: unknown, path: Path): unknown {
  let cur = v;
  for (const k of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

/** A copy of `v` with the value at `path` replaced (or removed, for undefined). */
export function setAt(v: unknown, path: Path, x: unknown): unknown {
  if (path.length === 0) return x;
  const [k, ...rest] = path as [string, ...string[]];
  const obj = v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : {};
  const next = setAt(obj[k], rest, x);
  if (next === undefined) delete obj[k];
  else obj[k] = next;
  return obj;
}

/** Follows a local `$ref` (`#/$defs/...`). */
function resolve(s: JsonSchema, root: JsonSchema): JsonSchema {
  if (s.$ref === undefined) return s;
  const name = s.$ref.replace(/^#\/(\$defs|definitions)\//, '');
  return root.$defs?.[name] ?? root.definitions?.[name] ?? {};
}

/** The schema without its null alternative, and whether null is allowed. */
function unwrapNull(s: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const r = resolve(s, root);
  const alts = r.anyOf ?? r.oneOf;
  if (alts !== undefined) {
    const rest = alts.filter((a) => a.type !== 'null');
    if (rest.length === 1) return { schema: { ...resolve(rest[0]!, root), description: r.description ?? rest[0]!.description }, nullable: rest.length < alts.length };
  }
  if (Array.isArray(r.type)) {
    const t = r.type.filter((x) => x !== 'null');
    if (t.length === 1) return { schema: { ...r, type: t[0]! }, nullable: t.length < r.type.length };
  }
  return { schema: r, nullable: false };
}

/** A value a new entry of a record starts with: the schema's defaults. */
export function defaultOf(s: JsonSchema, root: JsonSchema): unknown {
  const r = unwrapNull(s, root).schema;
  if (r.default !== undefined && !(typeof r.default === 'object' && r.default !== null && !Array.isArray(r.default) && r.properties)) return r.default;
  if (r.properties) return Object.fromEntries(Object.entries(r.properties).map(([k, p]) => [k, defaultOf(p, root)]).filter(([, v]) => v !== undefined));
  if (r.type === 'array') return [];
  if (r.type === 'object') return {};
  return undefined;
}

/** Names that are not plain words. */
const NAMES: Record<string, string> = { apikeys: 'API keys', mam: 'Message archive (MAM)', pep: 'PEP', vcard: 'vCard', extdisco: 'External services' };

/** A key as a label: `minLength` → "Min length". */
export function labelOf(key: string): string {
  if (NAMES[key] !== undefined) return NAMES[key];
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** What the form needs at every field. */
export interface FormContext {
  root: JsonSchema;
  /** Prefix of the fields' ids (unique per form). */
  idBase: string;
  values: unknown;
  onChange: (path: Path, value: unknown) => void;
  /** The server's error for a path ("a.b.c"), if any. */
  errorAt: (path: Path) => string | null;
}

const idOf = (ctx: FormContext, path: Path): string => `${ctx.idBase}-${path.join('-').replace(/[^a-zA-Z0-9_-]/g, '_')}`;

function Hint({ id, schema, extra }: { id: string; schema: JsonSchema; extra?: string }) {
  const text = [schema.description, extra].filter((x): x is string => Boolean(x)).map((x) => (/[.!?)]$/.test(x) ? x : `${x}.`)).join(' ');
  return text === '' ? null : (
    <p class="hint" id={`${id}-hint`}>
      {text}
    </p>
  );
}

function FieldError({ id, message }: { id: string; message: string | null }) {
  return message === null ? null : (
    <p class="error field-error" id={`${id}-error`} role="alert">
      {message}
    </p>
  );
}

/** One field (and, for objects and records, the fields under it). */
export function SchemaField({ ctx, path, schema, label }: { ctx: FormContext; path: Path; schema: JsonSchema; label: string }): ComponentChildren {
  const { schema: s, nullable } = unwrapNull(schema, ctx.root);
  const id = idOf(ctx, path);
  const value = getAt(ctx.values, path);
  const error = ctx.errorAt(path);
  const described = [s.description ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const type = Array.isArray(s.type) ? s.type[0] : s.type;

  if (type === 'boolean') {
    return (
      <div class="field check">
        <input id={id} type="checkbox" checked={value === true} aria-describedby={described} aria-invalid={error ? true : undefined} onChange={(e) => ctx.onChange(path, e.currentTarget.checked)} />
        <label for={id}>{label}</label>
        <Hint id={id} schema={s} />
        <FieldError id={id} message={error} />
      </div>
    );
  }
  if (s.enum !== undefined) {
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <select id={id} value={value === null || value === undefined ? '' : String(value)} aria-describedby={described} onChange={(e) => ctx.onChange(path, e.currentTarget.value === '' && nullable ? null : s.enum!.find((x) => String(x) === e.currentTarget.value))}>
          {nullable && <option value="">(none)</option>}
          {s.enum.map((x) => (
            <option key={String(x)} value={String(x)}>
              {String(x)}
            </option>
          ))}
        </select>
        <Hint id={id} schema={s} />
        <FieldError id={id} message={error} />
      </div>
    );
  }
  if (type === 'string' || type === 'integer' || type === 'number') {
    const numeric = type !== 'string';
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <input
          id={id}
          {...(numeric ? { type: 'number' as const, step: type === 'integer' ? 1 : 'any' } : { type: 'text' as const })}
          value={value === null || value === undefined ? '' : String(value)}
          aria-describedby={described}
          aria-invalid={error ? true : undefined}
          onInput={(e) => {
            const raw = e.currentTarget.value;
            ctx.onChange(path, raw === '' ? (nullable ? null : numeric ? undefined : '') : numeric ? Number(raw) : raw);
          }}
        />
        <Hint id={id} schema={s} extra={nullable ? 'Leave empty for none.' : undefined} />
        <FieldError id={id} message={error} />
      </div>
    );
  }
  if (type === 'array' && (s.items === undefined || unwrapNull(s.items, ctx.root).schema.type === 'string')) {
    const lines = Array.isArray(value) ? (value as unknown[]).map(String).join('\n') : '';
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <textarea
          id={id}
          rows={Math.min(8, Math.max(2, lines.split('\n').length))}
          value={lines}
          aria-describedby={described}
          aria-invalid={error ? true : undefined}
          onInput={(e) => ctx.onChange(path, e.currentTarget.value.split('\n').map((x) => x.trim()).filter((x) => x !== ''))}
        />
        <Hint id={id} schema={s} extra="One per line." />
        <FieldError id={id} message={error} />
      </div>
    );
  }
  if (type === 'object' && s.properties !== undefined) {
    return (
      <fieldset class="group">
        <legend>{label}</legend>
        <Hint id={id} schema={s} />
        <FieldError id={id} message={error} />
        {Object.entries(s.properties).map(([k, p]) => (
          <SchemaField key={k} ctx={ctx} path={[...path, k]} schema={p} label={labelOf(k)} />
        ))}
      </fieldset>
    );
  }
  if (type === 'object' && typeof s.additionalProperties === 'object') {
    const entry = s.additionalProperties;
    const record = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
    return (
      <fieldset class="group">
        <legend>{label}</legend>
        <Hint id={id} schema={s} />
        <FieldError id={id} message={error} />
        {Object.keys(record).map((k) => (
          <div class="record-entry" key={k}>
            <SchemaField ctx={ctx} path={[...path, k]} schema={entry} label={`${label}: ${k}`} />
            <button type="button" onClick={() => ctx.onChange([...path, k], undefined)}>
              Remove {k}
            </button>
          </div>
        ))}
        <div class="row">
          <label for={`${id}-new`}>New key for {label.toLowerCase()}</label>
          <input id={`${id}-new`} />
          <button
            type="button"
            onClick={() => {
              const input = document.getElementById(`${id}-new`) as HTMLInputElement | null;
              const k = input?.value.trim() ?? '';
              if (k === '' || k in record) return;
              ctx.onChange([...path, k], defaultOf(entry, ctx.root));
              input!.value = '';
            }}
          >
            Add
          </button>
        </div>
      </fieldset>
    );
  }
  // Anything else (a union, a list of objects) is edited as JSON.
  return (
    <div class="field">
      <label for={id}>{label} (JSON)</label>
      <textarea
        id={id}
        rows={4}
        value={JSON.stringify(value ?? null, null, 2)}
        aria-describedby={described}
        onChange={(e) => {
          try {
            ctx.onChange(path, JSON.parse(e.currentTarget.value));
          } catch {
            // Left as typed; the server reports what it cannot read.
          }
        }}
      />
      <Hint id={id} schema={s} />
      <FieldError id={id} message={error} />
    </div>
  );
}
