// One webhook POST, connected only to the addresses the target was checked at: the URL's name
// is resolved once (resolveWebhookTarget), and the socket's lookup answers with those addresses
// instead of asking DNS again, so a name that re-resolves to a private address between the
// check and the connect (DNS rebinding) cannot redirect the request. TLS still verifies the
// certificate against the URL's host name.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupAddress } from 'node:dns';
import type { CheckedTarget } from '@live-webrtc/shared';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A socket lookup that answers with the checked addresses only. */
export function pinnedLookup(addresses: readonly LookupAddress[]) {
  return (_host: string, opts: { all?: boolean; family?: number | string } | number, cb: LookupCallback): void => {
    const all = typeof opts === 'object' && opts.all === true;
    const want = typeof opts === 'number' ? opts : typeof opts === 'object' ? Number(opts.family ?? 0) : 0;
    const usable = want === 4 || want === 6 ? addresses.filter((a) => a.family === want) : [...addresses];
    if (usable.length === 0) {
      const err: NodeJS.ErrnoException = new Error('no checked address of the wanted family');
      err.code = 'ENOTFOUND';
      cb(err, all ? [] : '', undefined);
      return;
    }
    if (all) cb(null, usable);
    else cb(null, usable[0]!.address, usable[0]!.family);
  };
}

/** POSTs `body` to the checked target; resolves with the response status (the body is discarded). */
export function postWebhook(target: CheckedTarget, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
  const u = target.url;
  const opts: RequestOptions = {
    method: 'POST',
    protocol: u.protocol,
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port || undefined,
    path: `${u.pathname}${u.search}`,
    headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
    // A fresh connection each time: a pooled socket could be one opened to an older answer.
    agent: false,
    signal: AbortSignal.timeout(timeoutMs),
    ...(u.username ? { auth: `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}` } : {}),
    ...(target.addresses.length > 0 ? { lookup: pinnedLookup(target.addresses) as unknown as RequestOptions['lookup'] } : {}),
  };
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = send(opts, (res: IncomingMessage) => {
      res.resume();
      res.on('error', () => {});
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(body);
  });
}
