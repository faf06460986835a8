/**
 * XEP-0363 HTTP File Upload on the server's own address: a slot request (§4) answered with the PUT and GET URLs
 * (§5), or an error with the application conditions of §4.2 (`<file-too-large/>` with the limit) and §4.3
 * (`<retry/>` with when the quota frees up). The upload service is the server's domain, so the features, the
 * `store/file` identity and the max-file-size form appear in the server's disco#info (§2).
 */
import { isParleyError, ParleyError } from '../../core/errors.js';
import { XmppAppError } from '../../protocols/xmpp/c2s/errors.js';
import type { IqHandler } from '../../protocols/xmpp/c2s/types.js';
import { el } from '../../protocols/xmpp/xml/element.js';
import type { FilesService } from './service.js';

/** XEP-0363's namespace. */
export const NS_UPLOAD = 'urn:xmpp:http:upload:0';

/** The slot request handler. */
export function uploadRequest(service: FilesService): IqHandler {
  return {
    targets: ['server'],
    async get({ session, payload }) {
      const filename = payload.attr('filename');
      const size = payload.attr('size');
      if (filename === undefined || size === undefined || !/^\d{1,15}$/.test(size)) {
        throw new ParleyError('bad-request', 'a slot request names the filename and the size in bytes (XEP-0363 §4)');
      }
      try {
        const slot = await service.slot(session.user, { filename, size: Number(size), contentType: payload.attr('content-type') || null });
        return el('slot', { xmlns: NS_UPLOAD }, el('put', { url: slot.put.url }), el('get', { url: slot.get.url }));
      } catch (e) {
        throw withCondition(e);
      }
    },
  };
}

/** The engine's error with its XEP-0363 application condition, where one applies. */
function withCondition(e: unknown): unknown {
  if (isParleyError(e, 'file-too-large')) {
    return new XmppAppError(e, el('file-too-large', { xmlns: NS_UPLOAD }, el('max-file-size', {}, String(e.details?.maxFileSize ?? ''))));
  }
  if (isParleyError(e, 'quota-exceeded') && typeof e.details?.retryAt === 'string') {
    return new XmppAppError(e, el('retry', { xmlns: NS_UPLOAD, stamp: e.details.retryAt.replace(/\.\d+Z$/, 'Z') }));
  }
  return e;
}
