/**
 * Subscription options (XEP-0060 §6.3) as PEP offers them, in the `pubsub#subscribe_options` form (§16.4.2):
 * `pubsub#deliver` (false: no notifications while subscribed) and `pubsub#show-values` (notifications only while
 * the subscriber's session shows one of these presence states). Digests, bodies, expiry and the options of
 * collection nodes are not offered, so the form does not list them and a submitted form naming them is refused.
 */
import { ParleyError } from '../../core/errors.js';
import type { PepShow } from '../../engine/pep.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { formFields } from './config.js';

/** The form type of subscription options (XEP-0060 §16.4.2). */
export const SUBSCRIBE_OPTIONS = 'http://jabber.org/protocol/pubsub#subscribe_options';

/** The values of `pubsub#show-values` (XEP-0060 §16.4.2: RFC 6121 show values, and online for none). */
export const SHOW_VALUES: readonly PepShow[] = ['away', 'chat', 'dnd', 'online', 'xa'];

/** One subscription's options. */
export interface SubscriptionOptions {
  /** pubsub#deliver: notifications are sent (default true). */
  deliver: boolean;
  /** pubsub#show-values: the presence states notifications go to; null: any (the default). */
  show: PepShow[] | null;
}

/** The options of a subscription that never set any. */
export const DEFAULT_OPTIONS: Readonly<SubscriptionOptions> = { deliver: true, show: null };

/** Stored options (JSON; null: the defaults). */
export function parseOptions(json: string | null): SubscriptionOptions {
  if (json === null) return { ...DEFAULT_OPTIONS };
  return { ...DEFAULT_OPTIONS, ...(JSON.parse(json) as Partial<SubscriptionOptions>) };
}

/** Options as stored: null when they are the defaults. */
export function storedOptions(o: SubscriptionOptions): string | null {
  return o.deliver && o.show === null ? null : JSON.stringify(o);
}

/** XEP-0060 §6.3.6, §6.3.7: a form that cannot be applied (bad-request + invalid-options). */
const invalid = (why: string): ParleyError => new ParleyError('bad-request', why, { pubsub: 'invalid-options' });

/**
 * The fields of a submitted options form (`<x type='submit'/>` with FORM_TYPE subscribe_options, §6.3.5), applied
 * to `base`; anything else is bad-request + invalid-options, and nothing is changed.
 */
export function applyOptionsForm(base: SubscriptionOptions, x: Element | undefined): SubscriptionOptions {
  if (x === undefined) throw invalid('subscription options are a data form (jabber:x:data)');
  let fields: Map<string, string[]> | null;
  try {
    fields = formFields(x, SUBSCRIBE_OPTIONS);
  } catch (e) {
    throw invalid(e instanceof Error ? e.message : 'the options form is not valid');
  }
  const next: SubscriptionOptions = { ...base };
  for (const [name, values] of fields ?? []) {
    switch (name) {
      case 'pubsub#deliver': {
        const v = values[0];
        if (v === '1' || v === 'true') next.deliver = true;
        else if (v === '0' || v === 'false') next.deliver = false;
        else throw invalid('pubsub#deliver is a boolean');
        break;
      }
      case 'pubsub#show-values': {
        const bad = values.find((v) => !(SHOW_VALUES as readonly string[]).includes(v));
        if (bad !== undefined) throw invalid(`pubsub#show-values are ${SHOW_VALUES.join(', ')}, not ${bad}`);
        // Every state listed is the same as any state (the default).
        const show = [...new Set(values as PepShow[])].sort();
        next.show = show.length === SHOW_VALUES.length ? null : show;
        break;
      }
      default:
        throw invalid(`the subscription option ${name} is not offered (pubsub#deliver, pubsub#show-values)`);
    }
  }
  return next;
}

/** The options as the form a subscriber fills in (XEP-0060 §6.3.2; values before options, XEP-0004 §3.2). */
export function optionsForm(o: SubscriptionOptions): Element {
  const show = o.show ?? SHOW_VALUES;
  return el(
    'x',
    { xmlns: 'jabber:x:data', type: 'form' },
    el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, SUBSCRIBE_OPTIONS)),
    el('field', { var: 'pubsub#deliver', type: 'boolean', label: 'Enable delivery?' }, el('value', {}, o.deliver ? '1' : '0')),
    el(
      'field',
      { var: 'pubsub#show-values', type: 'list-multi', label: 'Receive notifications only while your presence shows one of these' },
      ...show.map((v) => el('value', {}, v)),
      ...SHOW_VALUES.map((v) => el('option', {}, el('value', {}, v))),
    ),
  );
}
