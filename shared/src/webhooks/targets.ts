// Which webhook targets may be called: a URL whose host resolves to a loopback, private,
// link-local, unique-local or otherwise non-public address is refused (SSRF into the
// deployment's own network), unless WEBHOOK_ALLOW_PRIVATE=1.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
// IPv4: this network, private, CGNAT, loopback, link-local, IETF, TEST-NETs, benchmarking,
// multicast and reserved.
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, bits, 'ipv4');
}
// IPv6: unspecified, loopback, IPv4-mapped (checked as IPv4 below), unique-local, link-local,
// documentation, multicast.
blocked.addAddress('::', 'ipv6');
blocked.addAddress('::1', 'ipv6');
for (const [net, bits] of [
  ['fc00::', 7],
  ['fe80::', 10],
  ['2001:db8::', 32],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

/** True for addresses a webhook must not reach by default. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) return blocked.check(mapped[1]!, 'ipv4');
    return blocked.check(ip, 'ipv6');
  }
  return true; // not an address at all: refuse
}

export class WebhookTargetError extends Error {
  override name = 'WebhookTargetError';
  constructor(
    readonly code: 'webhook_target_private' | 'webhook_target_unresolvable' | 'webhook_target_invalid',
    message: string,
  ) {
    super(message);
  }
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** A webhook URL and the addresses it was checked at: the delivery connects to these only. */
export interface CheckedTarget {
  url: URL;
  /** Empty when private targets are allowed (the HTTP client resolves the name itself then). */
  addresses: ResolvedAddress[];
}

type Resolve = (host: string, o: { all: true; verbatim: true }) => Promise<ResolvedAddress[]>;

/**
 * Resolves the URL's host once and throws WebhookTargetError when any address it resolves to
 * is not public (unless allowPrivate). Every address is checked, so a name with one public and
 * one private record is refused. The caller must connect to the returned addresses, not
 * resolve the name again: a second lookup could answer differently (DNS rebinding).
 */
export async function resolveWebhookTarget(
  url: string,
  allowPrivate: boolean,
  resolve: Resolve = lookup,
  isBlocked: (ip: string) => boolean = isPrivateAddress,
): Promise<CheckedTarget> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WebhookTargetError('webhook_target_invalid', `not a URL: ${url}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new WebhookTargetError('webhook_target_invalid', `not http(s): ${url}`);
  if (allowPrivate) return { url: u, addresses: [] };
  const host = u.hostname.replace(/^\[|\]$/g, '');
  let addresses: ResolvedAddress[];
  const family = isIP(host);
  if (family) addresses = [{ address: host, family }];
  else {
    try {
      addresses = (await resolve(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family }));
    } catch (err) {
      // The resolver's code only (ENOTFOUND…): its message can describe this host's resolver setup.
      const why = (err as { code?: unknown }).code;
      throw new WebhookTargetError(
        'webhook_target_unresolvable',
        `${host} does not resolve (${typeof why === 'string' ? why : 'lookup failed'})`,
      );
    }
  }
  const bad = addresses.find((a) => isBlocked(a.address));
  if (bad !== undefined || addresses.length === 0) {
    throw new WebhookTargetError(
      'webhook_target_private',
      // Which address it resolved to is not said: the answer would map internal names for a caller.
      `${host} resolves to a non-public address; set WEBHOOK_ALLOW_PRIVATE=1 to allow`,
    );
  }
  return { url: u, addresses };
}

/** resolveWebhookTarget without the addresses, for validating a URL. */
export async function checkWebhookTarget(url: string, allowPrivate: boolean, resolve: Resolve = lookup): Promise<void> {
  await resolveWebhookTarget(url, allowPrivate, resolve);
}
