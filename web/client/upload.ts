/**
 * Sharing a file (the files module, docs/files.md): a slot from `files.slot`, the PUT of the file with its progress
 * (XMLHttpRequest: fetch reports no upload progress), then a message whose body is the file's URL (what clients
 * without links show) and whose extension elements carry it as an XEP-0066 link with XEP-0446 metadata: name,
 * size, type and, for an image, its dimensions, so that a page reserves its box before it loads.
 */
import { ParleyApiError } from '../../client/session.js';
import { fileXml, humanSize, type SharedFile } from './extensions.js';
import { call, send } from './state.js';

/** What a person should read for a refused upload. */
export function uploadError(err: unknown): string {
  if (!(err instanceof ParleyApiError)) return err instanceof Error ? err.message : String(err);
  const d = err.details;
  switch (err.code) {
    case 'file-too-large':
      return typeof d.maxFileSize === 'number' ? `The file is too large: the limit is ${humanSize(d.maxFileSize)}.` : 'The file is too large.';
    case 'quota-exceeded':
      return typeof d.retryAt === 'string' ? `Your upload quota is used up until ${new Date(d.retryAt).toLocaleString()}.` : 'The upload quota is used up.';
    case 'file-infected':
      return `The virus scanner refused this file${typeof d.signature === 'string' ? ` (${d.signature})` : ''}.`;
    case 'service-unavailable':
      return d.reason === 'scanner' ? 'The virus scanner is not available, so the file was not accepted. Try again later.' : `The upload failed: ${err.message.replace(/^[a-z-]+: /, '')}`;
    case 'feature-not-implemented':
    case 'item-not-found':
      return 'File sharing is not enabled on this server.';
    default:
      return err.message.replace(/^[a-z-]+: /, '');
  }
}

/** An image's pixel size, or nulls for anything that does not decode as one. */
async function dimensions(file: File): Promise<{ width: number | null; height: number | null }> {
  if (!file.type.startsWith('image/')) return { width: null, height: null };
  try {
    const bmp = await createImageBitmap(file);
    const out = { width: bmp.width, height: bmp.height };
    bmp.close();
    return out;
  } catch {
    return { width: null, height: null };
  }
}

/** PUTs the file to the slot's URL, reporting bytes sent; rejects with the server's error. */
function put(url: string, headers: Record<string, string>, file: File, progress: (sent: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url);
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => progress(e.loaded);
    x.onload = () => {
      if (x.status >= 200 && x.status < 300) return resolve();
      let body: { error?: { code: string; message: string } & Record<string, unknown> } = {};
      try {
        body = JSON.parse(x.responseText) as typeof body;
      } catch {
        /* not JSON */
      }
      const { code = 'internal-server-error', message = x.statusText, ...details } = body.error ?? {};
      reject(new ParleyApiError(code, message, details));
    };
    x.onerror = () => reject(new ParleyApiError('service-unavailable', 'the server cannot be reached'));
    x.send(file);
  });
}

/** A slot to upload one file to (the files module's `files.slot`, docs/files.md). */
function fileSlot(filename: string, size: number, contentType: string): Promise<{ put: { url: string; headers: Record<string, string> }; get: { url: string } }> {
  return call('files.slot', { filename, size, contentType });
}

/** Uploads a file and shares it in a conversation. */
export async function shareFile(peer: string, file: File, progress: (sent: number) => void): Promise<void> {
  const type = file.type === '' ? 'application/octet-stream' : file.type;
  const slot = await fileSlot(file.name, file.size, type);
  const dims = await dimensions(file);
  // XEP-0363 §6: the PUT carries the slot's type; the slot's own headers (none from Parley) go with it.
  await put(slot.put.url, { ...slot.put.headers, 'Content-Type': type }, file, progress);
  const shared: SharedFile = { url: slot.get.url, name: file.name, size: file.size, type, ...dims };
  await send(peer, slot.get.url, fileXml(shared));
}
