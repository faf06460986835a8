/**
 * The modules of this server, in set-up order: the one list of capabilities that plug into the engine
 * (src/modules/<name>/). A module runs when its `modules.<name>.enabled` option is true; nothing registers itself
 * by being imported. A new capability is added here and nowhere else in the core.
 */
import { apikeys } from '../modules/apikeys/index.js';
import { archive } from '../modules/archive/index.js';
import { audit } from '../modules/audit/index.js';
import { blocking } from '../modules/blocking/index.js';
import { carbons } from '../modules/carbons/index.js';
import { components } from '../modules/components/index.js';
import { extdisco } from '../modules/extdisco/index.js';
import { files } from '../modules/files/index.js';
import type { AnyModule } from '../modules/host.js';
import { mam } from '../modules/mam/index.js';
import { naming } from '../modules/naming/index.js';
import { presentities } from '../modules/presentities/index.js';
import { search } from '../modules/search/index.js';
import { privateStorage } from '../modules/private/index.js';
import { notify } from '../modules/notify/index.js';
import { pep } from '../modules/pep/index.js';
import { usage } from '../modules/usage/index.js';
import { vcard } from '../modules/vcard/index.js';
import { webhooks } from '../modules/webhooks/index.js';
import { federation } from '../modules/federation/index.js';

/**
 * Every module Parley ships, in the order they are set up (earlier ones hook events first among equals). The
 * archive comes first: when it is on, it journals a change before any other module reacts to it (naming, right
 * after it, may still refuse an account; the archive then hears that it was not made). apikeys comes
 * before presentities, which uses its service; components after presentities, whose service it writes through;
 * webhooks comes after both, whose services it uses. files uses none. pep comes after vcard and private, whose
 * services it uses for avatars (XEP-0398) and legacy bookmarks (XEP-0402 #compat). search comes before mam,
 * which answers XEP-0431 full-text queries through its service (and offers the field only when it runs). audit
 * and usage come last: they only record what the others did, and the CLI asks audit about a change after every
 * module that may refuse it.
 */
export const MODULES: readonly AnyModule[] = [archive, naming, carbons, blocking, search, mam, vcard, privateStorage, pep, extdisco, apikeys, presentities, components, webhooks, notify, files, audit, usage, federation];
