/**
 * What a presentity is: a person (an account, whose presence the engine aggregates), a thing (a machine, a
 * room, a phone line) or a process (a batch job, a service), each an address with an owner, a kind,
 * availability, activity, status text and typed custom fields. Pure data and the zod schemas of the API.
 */
import { z } from 'zod';
import { AVAILABILITIES, type Availability } from '../../core/types.js';

/** The kinds of presentity. */
export const KINDS = ['person', 'thing', 'process'] as const;
export type Kind = (typeof KINDS)[number];
/** Things and processes: the kinds this module stores. */
export const DEVICE_KINDS = ['thing', 'process'] as const;

/** The core's availabilities, `offline`, and `unknown` (a heartbeat lapsed, or never reported). */
export type PresentityAvailability = Availability | 'offline' | 'unknown';
export const PRESENTITY_AVAILABILITIES: readonly PresentityAvailability[] = [...AVAILABILITIES, 'offline', 'unknown'];
/** What an update may set (unknown is the server's to say). */
export const SETTABLE_AVAILABILITIES = [...AVAILABILITIES, 'offline'] as const;

/** A custom field's value. */
export type FieldValue = string | number | boolean | null;
/** The types a thing declares for its fields. */
export const FIELD_TYPES = ['string', 'number', 'boolean'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** Who may see a thing or process besides its owner. */
export interface Grants {
  users: string[];
  groups: string[];
  domains: string[];
}

/** A thing's or process's definition (its owner's). */
export interface DeviceDef {
  address: string;
  kind: 'thing' | 'process';
  owner: string;
  /** Shared groups it counts as a member of (subscriptions and queries by group). */
  groups: string[];
  /** Seconds within which an update must arrive, or its availability becomes unknown; null: none. */
  heartbeatSeconds: number | null;
  /** The fields updates may set, with their types. */
  fields: Record<string, FieldType>;
  grants: Grants;
  createdAt: number;
}

/** A reported state. */
export interface DeviceState {
  availability: PresentityAvailability;
  activity: string | null;
  status: string | null;
  fields: Record<string, FieldValue>;
}

/** A thing or process as stored: definition, state and deadlines. */
export interface DeviceRecord {
  def: DeviceDef;
  /** The state without a temporary update. */
  base: DeviceState;
  /** The state now (base, or a temporary update over it until expiresAt). */
  current: DeviceState;
  /** Epoch ms when the temporary update falls back to base; null when none. */
  expiresAt: number | null;
  /** Epoch ms by which the next update must arrive (heartbeatSeconds); null when none. */
  heartbeatDue: number | null;
  /** True when the heartbeat lapsed: the availability shows as unknown until the next update. */
  lapsed: boolean;
  updatedAt: number;
  /** Position of its last change. */
  position: number;
}

/** A presentity as readers see it. */
export interface Presentity {
  address: string;
  kind: Kind;
  owner: string;
  availability: PresentityAvailability;
  activity: string | null;
  status: string | null;
  fields: Record<string, FieldValue>;
  /** For things and processes: the groups they count in (people's are the shared groups). */
  groups: string[];
  heartbeatSeconds: number | null;
  expiresAt: number | null;
  updatedAt: number;
  /** Position of its last change (0: none since the server started, for people). */
  position: number;
}

/** The presentity view of a stored thing or process. */
export function deviceView(r: DeviceRecord): Presentity {
  const s = r.current;
  return {
    address: r.def.address,
    kind: r.def.kind,
    owner: r.def.owner,
    availability: r.lapsed ? 'unknown' : s.availability,
    activity: s.activity,
    status: s.status,
    fields: s.fields,
    groups: r.def.groups,
    heartbeatSeconds: r.def.heartbeatSeconds,
    expiresAt: r.expiresAt,
    updatedAt: r.updatedAt,
    position: r.position,
  };
}

/** The state of a thing that has never reported. */
export const UNREPORTED: DeviceState = { availability: 'unknown', activity: null, status: null, fields: {} };

const address = z.string().min(3).max(3071);
const group = z.string().min(1).max(256);
const fieldName = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'a field name is a letter then up to 63 letters, digits, _ . -');

/** PUT /things/:address: a thing's or process's definition. */
export const defineBody = z.strictObject({
  kind: z.enum(DEVICE_KINDS),
  groups: z.array(group).max(64).default([]),
  heartbeatSeconds: z.number().int().min(1).max(7 * 86_400).nullable().default(null),
  fields: z.record(fieldName, z.enum(FIELD_TYPES)).default({}).refine((f) => Object.keys(f).length <= 64, 'at most 64 fields'),
  grants: z
    .strictObject({
      users: z.array(address).max(10_000).default([]),
      groups: z.array(group).max(1000).default([]),
      domains: z.array(z.string().min(1).max(1023)).max(1000).default([]),
    })
    .default({ users: [], groups: [], domains: [] }),
});
export type DefineBody = z.output<typeof defineBody>;

/** The fixed part of an update (fields are checked against the thing's declared types: updateSchema). */
const updateBase = {
  availability: z.enum(SETTABLE_AVAILABILITIES).optional(),
  activity: z.string().min(1).max(64).nullable().optional(),
  status: z.string().max(1024).nullable().optional(),
  expiresInSeconds: z.number().int().min(1).max(366 * 86_400).optional(),
};

/**
 * Each declaration's update schema, built once: building and compiling a zod schema per request took about an
 * eighth of the server's main thread at a thousand writes a second (bench/presentities-writes.ts). Keyed by the
 * declared fields object, which a thing keeps until it is defined again, so the cache follows the things.
 */
const updateSchemas = new WeakMap<Record<string, FieldType>, ReturnType<typeof buildUpdateSchema>>();

/** The schema of an update to a thing that declared `fields`: unknown fields and wrong types are refused. */
export function updateSchema(fields: Record<string, FieldType>) {
  let schema = updateSchemas.get(fields);
  if (schema === undefined) updateSchemas.set(fields, (schema = buildUpdateSchema(fields)));
  return schema;
}

function buildUpdateSchema(fields: Record<string, FieldType>) {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, type] of Object.entries(fields)) {
    const t = type === 'string' ? z.string().max(1024) : type === 'number' ? z.number().finite() : z.boolean();
    shape[name] = t.nullable().optional();
  }
  return z.strictObject({ ...updateBase, fields: z.strictObject(shape).optional() });
}
export type UpdateBody = {
  availability?: (typeof SETTABLE_AVAILABILITIES)[number] | undefined;
  activity?: string | null | undefined;
  status?: string | null | undefined;
  expiresInSeconds?: number | undefined;
  fields?: Record<string, FieldValue | undefined> | undefined;
};

/** What a subscription or a query follows: addresses, a group's members, filtered by `where`. */
export const targetShape = {
  addresses: z.array(address).max(1_000_000).optional(),
  group: group.optional(),
  where: z
    .strictObject({
      kind: z.array(z.enum(KINDS)).min(1).optional(),
      availability: z.array(z.enum(PRESENTITY_AVAILABILITIES as [PresentityAvailability, ...PresentityAvailability[]])).min(1).optional(),
      fields: z.record(fieldName, z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    })
    .optional(),
};
export const targetBody = z.strictObject(targetShape).refine((t) => t.addresses !== undefined || t.group !== undefined, 'name addresses, a group, or both');
export type Target = z.output<typeof targetBody>;

/** Whether a presentity passes a target's `where`. */
export function passes(p: Presentity, where: Target['where']): boolean {
  if (!where) return true;
  if (where.kind && !where.kind.includes(p.kind)) return false;
  if (where.availability && !where.availability.includes(p.availability)) return false;
  if (where.fields) for (const [k, v] of Object.entries(where.fields)) if (p.fields[k] !== v) return false;
  return true;
}
