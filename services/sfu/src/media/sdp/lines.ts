// A small SDP tokenizer (RFC 8866 line structure only). We do not parse offers with
// sdp-transform: it turns any all-digit value into a number (`a=mid:0` → 0, a numeric
// ice-ufrag → number, a single payload type → number), and its `a=msid` rule rejects the
// `{uuid}` identifiers Firefox writes. Interpreting attributes is offer.ts's job.
import { SdpError } from './errors.js';

export interface SdpAttribute {
  /** Attribute name, e.g. `rtpmap` for `a=rtpmap:96 VP8/90000`. */
  name: string;
  /** Text after the first colon; undefined for flags such as `a=rtcp-mux`. */
  value: string | undefined;
}

export interface SdpMediaBlock {
  /** 0-based position of the m-line among all m-lines. */
  index: number;
  media: string;
  port: number;
  protocol: string;
  formats: string[];
  /** The c= line's address, if any. */
  connection: string | undefined;
  attributes: SdpAttribute[];
}

export interface SdpDocument {
  attributes: SdpAttribute[];
  media: SdpMediaBlock[];
}

const LINE = /^([a-z])=(.*)$/;
const MLINE = /^(\S+) (\d+)(?:\/\d+)? (\S+)((?: \S+)*)$/;
const CLINE = /^IN IP[46] (\S+)$/;
const MAX_LINE = 4096;

/** Splits an SDP into session attributes and m-sections; throws SdpError('bad_sdp'). */
export function tokenize(sdp: string): SdpDocument {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new SdpError('bad_sdp', 'the body is empty, not an SDP offer');
  const lines = sdp.split(/\r?\n/).map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== 'v=0') throw new SdpError('bad_sdp', 'not an SDP offer: the first line must be "v=0"');

  const doc: SdpDocument = { attributes: [], media: [] };
  let current: SdpMediaBlock | undefined;
  for (const [i, line] of lines.entries()) {
    const lineNo = i + 1;
    if (line === '') continue;
    if (line.length > MAX_LINE) throw new SdpError('bad_sdp', `SDP line ${lineNo} is longer than ${MAX_LINE} characters`);
    const m = LINE.exec(line);
    if (!m) throw new SdpError('bad_sdp', `SDP line ${lineNo} is not of the form "<letter>=<value>": ${JSON.stringify(line.slice(0, 40))}`);
    const type = m[1] as string;
    const value = m[2] as string;
    if (type === 'm') {
      const ml = MLINE.exec(value);
      if (!ml) throw new SdpError('bad_sdp', `SDP line ${lineNo}: malformed m-line ${JSON.stringify(value.slice(0, 60))}`);
      const formats = (ml[4] ?? '').trim().split(' ').filter(Boolean);
      if (formats.length === 0) throw new SdpError('bad_sdp', `SDP line ${lineNo}: the m-line lists no formats`);
      current = {
        index: doc.media.length,
        media: ml[1] as string,
        port: Number(ml[2]),
        protocol: ml[3] as string,
        formats,
        connection: undefined,
        attributes: [],
      };
      doc.media.push(current);
    } else if (type === 'c') {
      if (current) current.connection = CLINE.exec(value)?.[1];
    } else if (type === 'a') {
      const colon = value.indexOf(':');
      const attr: SdpAttribute =
        colon < 0 ? { name: value, value: undefined } : { name: value.slice(0, colon), value: value.slice(colon + 1) };
      (current ? current.attributes : doc.attributes).push(attr);
    }
    // o=, s=, t=, b=, i=, … carry nothing the SFU needs.
  }
  return doc;
}

/** The first value of attribute `name`, or undefined. */
export function attr(list: readonly SdpAttribute[], name: string): string | undefined {
  return list.find((a) => a.name === name)?.value;
}

/** Every value of attribute `name` (flags give ''). */
export function attrs(list: readonly SdpAttribute[], name: string): string[] {
  return list.filter((a) => a.name === name).map((a) => a.value ?? '');
}

export function hasAttr(list: readonly SdpAttribute[], name: string): boolean {
  return list.some((a) => a.name === name);
}
