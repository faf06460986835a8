/**
 * The little of XMLHttpRequest that Strophe.js's BOSH transport uses, over node:http, so that the real Strophe
 * client runs in Node.js: Strophe's Node build brings a DOM (@xmldom/xmldom) and WebSocket (ws) but no XHR.
 * responseXML is parsed with the DOMParser Strophe installed; `origin` adds an Origin header, as a browser would.
 */
import { request, type ClientRequest } from 'node:http';

/** The DOMParser Strophe's Node build installed on globalThis. */
function domParser(): new () => { parseFromString(text: string, type: string): unknown } {
  return (globalThis as unknown as { DOMParser: new () => { parseFromString(text: string, type: string): unknown } }).DOMParser;
}

/** Requests made so far (tests count them). */
export const xhrLog: Array<{ url: string; body: string; status: number }> = [];

/** Installs the shim as globalThis.XMLHttpRequest; `origin` is sent as the Origin header. Returns the undo. */
export function installXhr(origin?: string): () => void {
  const previous = (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest;
  class NodeXhr {
    readyState = 0;
    status = 0;
    responseText = '';
    responseXML: unknown = null;
    withCredentials = false;
    onreadystatechange: (() => void) | null = null;
    private method = 'GET';
    private url = '';
    private headers: Record<string, string> = {};
    private req: ClientRequest | null = null;
    private responseHeaders = '';
    private aborted = false;

    open(method: string, url: string): void {
      this.method = method;
      this.url = url;
      this.readyState = 1;
    }
    overrideMimeType(): void {}
    setRequestHeader(name: string, value: string): void {
      this.headers[name] = value;
    }
    getAllResponseHeaders(): string {
      return this.responseHeaders;
    }
    abort(): void {
      this.aborted = true;
      this.req?.destroy();
    }
    send(body: string): void {
      const headers: Record<string, string> = { ...this.headers, 'content-length': String(Buffer.byteLength(body)) };
      if (origin !== undefined) headers.origin = origin;
      const req = request(this.url, { method: this.method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (this.aborted) return;
          this.status = res.statusCode ?? 0;
          this.responseText = Buffer.concat(chunks).toString('utf8');
          this.responseHeaders = Object.entries(res.headers)
            .map(([k, v]) => `${k}: ${String(v)}`)
            .join('\r\n');
          try {
            this.responseXML = this.responseText === '' ? null : new (domParser())().parseFromString(this.responseText, 'text/xml');
          } catch {
            this.responseXML = null;
          }
          xhrLog.push({ url: this.url, body, status: this.status });
          this.readyState = 4;
          this.onreadystatechange?.();
        });
      });
      this.req = req;
      req.on('error', () => {
        if (this.aborted) return;
        this.status = 0;
        this.readyState = 4;
        this.onreadystatechange?.();
      });
      req.end(body);
    }
  }
  (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = NodeXhr;
  return () => {
    (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = previous;
  };
}
