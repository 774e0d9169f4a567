// Where the page fetches a recording's outputs: the signed URL when the server requires
// credentials (players, <img> and links cannot send headers), else the plain one.
import type { Output } from './api.js';

export const outputHref = (o: Output): string => o.signedUrl ?? o.url ?? '';

/** A file inside a multi-file output (hls/…, sprite/…), keeping the signed token. */
export function outputFileHref(o: Output, file: string): string {
  const u = new URL(outputHref(o), location.href);
  u.pathname = `${u.pathname}/${file}`;
  return u.pathname + u.search;
}

export const OUTPUT_LABELS: Record<string, string> = {
  raw: 'Original capture',
  mp4: 'MP4',
  hls: 'HLS stream',
  poster: 'Poster image',
  sprite: 'Preview sprite',
  audio: 'Audio only',
  composite: 'Composite (all participants)',
};

export const outputLabel = (o: Output): string => `${OUTPUT_LABELS[o.name] ?? o.name}${o.participant ? ` (${o.participant})` : ''}`;
