/**
 * The compliance archive (docs/archive.md): a tamper-evident journal of every message, edit, retraction and
 * receipt, written in the same transaction as the message (so nothing is acknowledged or delivered unrecorded),
 * and of the changes around them. Tree heads are signed C2SP checkpoints served at a public URL with consistency
 * proofs, so an outside witness can detect a rewritten history; `parley archive verify` recomputes everything.
 */
import { performance } from 'node:perf_hooks';
import { defineModule, type ModuleApi } from '../api.js';
import { TrafficPacer } from '../consumer.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { failedDraft, journalChange } from './changes.js';
import { archiveOptions, type ArchiveOptions } from './options.js';
import { area, type ArchiveArea } from './sqlite.js';
import { archiveCommands } from './commands.js';
import { archiveRoutes } from './routes.js';
import { ARCHIVE_ROLES, ROLE_NAMES } from './roles.js';
import { runRetention } from './retention.js';
import { compileLexicon, reviewCandidates, type CompiledLexicon } from './review.js';

/**
 * Journals the engine's changes around messages (the messages themselves are journaled by the store) before they
 * are made: a change the journal cannot record is refused (changes.ts).
 */
function journalEvents(api: ModuleApi<ArchiveOptions>, archive: ArchiveArea): void {
  // Before other modules' handlers: the journal sees a change first. The same clock as the module's other
  // entries (checkpoints, retention runs).
  const first = 1_000_000;
  api.on('change.check', (c) => journalChange(archive, c, Date.now()), first);
  api.on('change.failed', async (e) => {
    await archive.journal([failedDraft(e.change, e.code, Date.now())]);
  }, first);
}

/** Runs retention every `retention.runHours` (0: only by command); one run at a time, stopped at shutdown. */
function retentionTimer(api: ModuleApi<ArchiveOptions>, store: ArchiveArea): void {
  const hours = api.options.retention.runHours;
  if (hours <= 0) return;
  let running: Promise<unknown> = Promise.resolve();
  let busy = false;
  const run = (): void => {
    if (busy) return;
    busy = true;
    running = runRetention(store, { now: Date.now(), dryRun: false, limits: api.options.retention, actor: 'system' })
      .then((t) => api.log.info({ ...t }, 'retention run done'))
      .catch((e: unknown) => api.log.error({ err: e }, 'a retention run failed'))
      .finally(() => {
        busy = false;
      });
  };
  const timer = setInterval(run, hours * 3_600_000);
  timer.unref();
  api.onClose(async () => {
    clearInterval(timer);
    await running;
  });
}

/**
 * Most entries the index takes per transaction in the background: about 20 ms of the store's thread, the
 * longest an append waits behind it.
 */
const INDEX_BACKGROUND_BATCH = 2000;

/** The compliance archive module. */
export const archive = defineModule({
  name: 'archive',
  summary: 'Tamper-evident compliance journal with signed checkpoints (docs/archive.md)',
  options: archiveOptions,
  storage: sqliteBeside(import.meta.url, area),
  commands: archiveCommands(),
  // Accounts and domains changed with the CLI, in a process where no engine event fires: journaled before the
  // change is stored, as the engine's gate does.
  async operatorChange(e, { store }) {
    const a = store.area<ArchiveArea>('archive');
    if (e.phase === 'check') await journalChange(a, e.change, Date.now());
    else await a.journal([failedDraft(e.change, e.code, Date.now())]);
  },
  async setup(api) {
    // Everyone is told, in the web apps, that what they write is recorded (as firms must tell their staff).
    api.userNotice('Conversations on this server are recorded and kept for compliance.');
    const store = api.storage<ArchiveArea>();
    // The administration console shows who holds the archive's roles (its own routes check them).
    api.roles(async (user) => {
      const held = await Promise.all(ARCHIVE_ROLES.map(async (r) => ((await store.hasRole(user, r)) ? [ROLE_NAMES[r]] : [])));
      return held.flat();
    });
    const { origin } = api.options;
    journalEvents(api, store);
    // The first checkpoint creates the key pair, so its verifier key can be handed to auditors at once. It and
    // the periodic ones cover what is sealed (sealing at most a chunk themselves), so neither a start after a
    // burst nor a timer during one takes the store's thread for the index's whole backlog.
    await store.checkpoint(origin, Date.now(), 'sealed');
    const timer = setInterval(() => {
      store.checkpoint(origin, Date.now(), 'sealed').catch((e: unknown) => api.log.error({ err: e }, 'signing a checkpoint failed'));
    }, api.options.checkpointSeconds * 1000);
    timer.unref();
    api.onClose(async () => {
      clearInterval(timer);
      // A last tree head covering everything journaled before shutdown.
      await store.checkpoint(origin, Date.now());
    });

    // The search index follows the journal outside the delivery path; it indexes from its own position in
    // the journal, so entries the CLI wrote are covered too. Batches, each its own transaction on the store's
    // thread, with pauses that keep it to at most a seventh of that thread (TrafficPacer). Nobody waits on it
    // while messages arrive: a search first indexes whatever is still pending, so it always sees everything. So
    // during a burst (entries arriving faster than one batch a second) it starts no batch, until the burst ends
    // or what waits would take about ten seconds to index (the longest a search then waits first); after a
    // burst it catches up. Measured (docs/PERFORMANCE.md): indexing as fast as it could cost the message
    // benchmark a tenth of its rate, and even one batch a second during the burst was all the archive still
    // cost it.
    const pacer = new TrafficPacer(INDEX_BACKGROUND_BATCH, true);
    api.follow('index', async (signal) => {
      pacer.reset();
      while (!signal.aborted) {
        const started = performance.now();
        const { scanned, pending } = await store.indexPending(INDEX_BACKGROUND_BATCH);
        if (pending === 0) return;
        await pacer.pause(performance.now() - started, scanned, pending, () => store.indexLag(), signal);
      }
    });
    retentionTimer(api, store);
    // Supervision follows the log outside the delivery path; a batch that fails is retried, and queueing is
    // idempotent, so a message is flagged once.
    // With no lexicon and no sampling it reads nothing: the records logged meanwhile are skipped, since a
    // lexicon applies to messages from its creation on.
    const { samplePercent } = api.options.supervision;
    // Read once per pass, in `wants`, and used by the batches of that pass.
    let lexicons: CompiledLexicon[] = [];
    api.consume(
      'review',
      async (records) => {
        const candidates = await reviewCandidates(records, lexicons, (user) => api.engine.admin.groupsOf(user));
        if (candidates.length > 0) await store.reviewIngest(candidates, samplePercent, Date.now());
      },
      {
        // Flags may lag live traffic under load, and wait out a burst (more than a batch a second arriving); the
        // delivery path keeps the threads. Batches as large as the index's, so that steady traffic of a few
        // hundred messages a second is not taken for a burst.
        batch: INDEX_BACKGROUND_BATCH,
        waitOutBursts: true,
        wants: async () => {
          lexicons = (await store.lexiconList()).map(compileLexicon);
          return samplePercent > 0 || lexicons.length > 0;
        },
      },
    );

    api.http((app, ctx) => archiveRoutes(app, ctx, store, api.options, (address) => api.engine.admin.userExists(address)));
  },
});
