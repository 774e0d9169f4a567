// The live figures panel shared by Publish and Watch: a labelled <dl> refreshed once a second.
import { h } from './dom.js';
import { fmtBitrate } from './format.js';
import type { LiveFigures } from './stats.js';

export class FiguresPanel {
  readonly root: HTMLElement;
  #cells = new Map<string, HTMLElement>();

  constructor(label: string) {
    const names: [string, string][] = [
      ['bitrate', 'Bitrate'],
      ['fps', 'Frame rate'],
      ['loss', 'Packet loss'],
      ['rtt', 'Round trip'],
      ['size', 'Resolution'],
    ];
    const dl = h('dl', { class: 'figures' });
    for (const [key, title] of names) {
      const dd = h('dd', { 'data-figure': key, text: '—' });
      this.#cells.set(key, dd);
      dl.append(h('div', {}, h('dt', { text: title }), dd));
    }
    this.root = h('section', { class: 'panel', 'aria-label': label }, h('h2', { text: label }), dl);
  }

  show(f: LiveFigures | null): void {
    const set = (k: string, v: string): void => {
      const c = this.#cells.get(k);
      if (c) c.textContent = v;
    };
    set('bitrate', f ? fmtBitrate(f.bitrate) : '—');
    set('fps', f?.fps !== null && f?.fps !== undefined ? `${Math.round(f.fps)} fps` : '—');
    set('loss', f?.loss !== null && f?.loss !== undefined ? `${f.loss.toFixed(1)} %` : '—');
    set('rtt', f?.rtt !== null && f?.rtt !== undefined ? `${Math.round(f.rtt)} ms` : '—');
    set('size', f?.width && f.height ? `${f.width}×${f.height}` : '—');
  }
}
