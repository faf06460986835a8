/**
 * Files (docs/files.md): XEP-0363 HTTP File Upload for XMPP clients, and the same slots through the JSON API
 * (`files.slot`) and HTTP (`POST /api/v1/files/slots`). Every upload is streamed to ClamAV's clamd while it
 * arrives and stored only when clamd said it is clean; without a verdict nothing is stored (fail closed).
 * Downloads are attachments with nosniff and a CSP that lets nothing run; files expire by policy; quotas per
 * file, per account and day, and in total. Stored files and refusals are journaled by the archive when it is on.
 */
import { op } from '../../protocols/json-ws/ops.js';
import { defineModule } from '../api.js';
import { openSqliteAreaInMemory } from '../sqlite-memory.js';
import { filesOptions } from './options.js';
import { filesRoutes, slotSchema } from './routes.js';
import { Scanner } from './scanner.js';
import { FilesService } from './service.js';
import { area, type FilesArea } from './sqlite.js';
import { NS_UPLOAD, uploadRequest } from './xmpp.js';

/** The files module. */
export const files = defineModule({
  name: 'files',
  summary: 'File uploads and downloads (XEP-0363 and the APIs), scanned by ClamAV before they are stored (docs/files.md)',
  options: filesOptions,
  // Limits, read per use (the service asks for the options each time); the directory, clamd, the sweep's period and
  // the public URL are wiring and take a restart.
  live: ['maxFileBytes', 'perUserDailyBytes', 'totalBytes', 'slotSeconds', 'expiryDays'],
  // Under the test runner this file is TypeScript: naming the .ts source lets the store map it to the build.
  storage: { sqlite: new URL(import.meta.url.endsWith('.ts') ? './sqlite.ts' : './sqlite.js', import.meta.url).href, memory: (ctx) => openSqliteAreaInMemory(area, ctx) },
  async setup(api) {
    // Wiring only: the live limits are read per use through api.options.
    const o = api.options;
    const scanner = new Scanner(o.clamd, api.log);
    const service = new FilesService(api.storage<FilesArea>(), () => api.options, scanner, api, api.log);
    await service.prepare();
    if (!scanner.enabled) api.log.warn({}, 'modules.files: no clamd configured, so uploads are stored WITHOUT a malware scan (docs/files.md)');
    scanner.start();

    // XEP-0363 §2: the server's domain is the upload service; max-file-size in an XEP-0128 form.
    api.xmppFeature(NS_UPLOAD);
    api.xmppIdentity({ category: 'store', type: 'file', name: 'HTTP File Upload' });
    const announce = api.xmppForm({ formType: NS_UPLOAD, fields: { 'max-file-size': String(o.maxFileBytes) } });
    // The announced limit follows the live one (XEP-0363 §2), and so does the caps hash.
    api.onOptions((next, previous) => {
      if (next.maxFileBytes !== previous.maxFileBytes) announce({ 'max-file-size': String(next.maxFileBytes) });
    });
    api.xmppIq(NS_UPLOAD, 'request', uploadRequest(service));
    api.jsonOp('files.slot', op(slotSchema, async ({ session }, p) => service.slot(session.user, p)));
    api.http((app, ctx) => filesRoutes(app, ctx, service));
    // Uploads are refused while a required scanner is down: the server's status says so (docs/files.md).
    api.health(() => {
      const s = scanner.state();
      return s.required && s.state === 'down' ? { scanner: s, degraded: `uploads are refused: clamd cannot scan (${s.error ?? 'unreachable'})` } : { scanner: s };
    });

    const sweep = (): void => {
      service.sweep().catch((e: unknown) => api.log.error({ err: e }, 'files sweep failed'));
    };
    const timer = setInterval(sweep, o.sweepSeconds * 1000);
    timer.unref();
    api.onClose(() => {
      clearInterval(timer);
      scanner.stop();
    });
  },
});

export { FilesService };
export { parseInstreamReply, InstreamScan, clamdCommand } from './clamd.js';
