// In-page playback of a finished recording: MP4 directly, HLS through hls.js (loaded only when
// needed, or the browser's own HLS when hls.js cannot run), and a seek bar that previews the
// frame under the pointer from the sprite + WebVTT output.
import { request, type Output } from './api.js';
import { h } from './dom.js';
import { fmtDuration } from './format.js';
import { outputFileHref, outputHref } from './outputs.js';

interface Cue {
  start: number;
  end: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** WebVTT cues of the form `sprite.jpg#xywh=x,y,w,h`. */
export function parseSpriteVtt(text: string): Cue[] {
  const cues: Cue[] = [];
  const ts = (s: string): number => {
    const p = s.split(':').map(Number);
    return p.reduce((acc, v) => acc * 60 + v, 0);
  };
  const re = /([\d:.]+)\s+-->\s+([\d:.]+)\s*\n[^\n#]*#xywh=(\d+),(\d+),(\d+),(\d+)/g;
  for (const m of text.matchAll(re)) {
    cues.push({ start: ts(m[1]!), end: ts(m[2]!), x: Number(m[3]), y: Number(m[4]), w: Number(m[5]), h: Number(m[6]) });
  }
  return cues;
}

export type Source = 'mp4' | 'hls';

interface HlsLike {
  loadSource(url: string): void;
  attachMedia(v: HTMLMediaElement): void;
  destroy(): void;
}

export class RecordingPlayer {
  readonly root: HTMLElement;
  readonly video: HTMLVideoElement;
  readonly seek: HTMLInputElement;
  readonly preview: HTMLCanvasElement;
  readonly previewTime: HTMLElement;
  source: Source | null = null;
  #hls: HlsLike | null = null;
  #cues: Cue[] = [];
  #sprite: HTMLImageElement | null = null;

  constructor() {
    this.video = h('video', { id: 'player', controls: true, playsinline: true, preload: 'metadata', 'aria-label': 'Recording playback' });
    this.seek = h('input', {
      id: 'seek',
      type: 'range',
      min: '0',
      max: '0',
      step: '0.1',
      value: '0',
      'aria-label': 'Seek (with frame preview)',
    });
    this.preview = h('canvas', {
      id: 'scrub-preview',
      width: 160,
      height: 90,
      class: 'scrub-preview',
      hidden: true,
      'aria-hidden': 'true',
    });
    this.previewTime = h('span', { class: 'scrub-time', 'aria-hidden': 'true' });
    const scrub = h('div', { class: 'scrub' }, h('div', { class: 'scrub-pop' }, this.preview, this.previewTime), this.seek);
    this.root = h('div', { class: 'player' }, this.video, scrub);

    this.video.addEventListener('loadedmetadata', () => {
      this.seek.max = String(Number.isFinite(this.video.duration) ? this.video.duration : 0);
    });
    this.video.addEventListener('timeupdate', () => {
      if (document.activeElement !== this.seek) this.seek.value = String(this.video.currentTime);
      this.seek.setAttribute('aria-valuetext', fmtDuration(this.video.currentTime * 1000));
    });
    this.seek.addEventListener('input', () => {
      this.video.currentTime = Number(this.seek.value);
      this.#showPreview(Number(this.seek.value), this.#fraction(Number(this.seek.value)));
    });
    this.seek.addEventListener('pointermove', (e) => {
      const r = this.seek.getBoundingClientRect();
      const f = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
      this.#showPreview(f * Number(this.seek.max), f);
    });
    const hide = (): void => {
      this.preview.hidden = true;
      this.previewTime.textContent = '';
    };
    this.seek.addEventListener('pointerleave', hide);
    this.seek.addEventListener('blur', hide);
  }

  #fraction(t: number): number {
    const max = Number(this.seek.max);
    return max > 0 ? t / max : 0;
  }

  /** Draws the sprite tile for time `t` above the seek bar at `fraction` of its width. */
  #showPreview(t: number, fraction: number): void {
    const cue = this.#cues.find((c) => t >= c.start && t < c.end) ?? this.#cues[this.#cues.length - 1];
    if (!cue || !this.#sprite?.complete) return;
    const ctx = this.preview.getContext('2d');
    if (!ctx) return;
    this.preview.width = cue.w;
    this.preview.height = cue.h;
    ctx.drawImage(this.#sprite, cue.x, cue.y, cue.w, cue.h, 0, 0, cue.w, cue.h);
    this.preview.hidden = false;
    this.preview.dataset['cue'] = String(this.#cues.indexOf(cue));
    this.previewTime.textContent = fmtDuration(t * 1000);
    // CSSOM (not a style attribute), so the CSP without inline styles holds.
    (this.preview.parentElement as HTMLElement).style.left = `${(fraction * 100).toFixed(2)}%`;
  }

  async loadSprite(sprite: Output): Promise<void> {
    const res = await request('GET', outputFileHref(sprite, 'sprite.vtt'));
    this.#cues = parseSpriteVtt(await res.text());
    const img = new Image();
    img.src = outputFileHref(sprite, 'sprite.jpg');
    await img.decode().catch(() => {});
    this.#sprite = img;
    this.root.dataset['sprite'] = String(this.#cues.length);
  }

  async play(source: Source, out: Output): Promise<void> {
    this.#hls?.destroy();
    this.#hls = null;
    // Start from a clean element: the previous source's time and size must not linger.
    this.video.pause();
    this.video.removeAttribute('src');
    this.video.load();
    this.source = source;
    this.root.dataset['source'] = source;
    const url = outputHref(out);
    if (source === 'mp4') {
      this.video.src = url;
      return;
    }
    const { default: Hls } = await import('hls.js/light');
    if (Hls.isSupported()) {
      // No worker: it would be made from a blob: URL, which the page's CSP (script-src 'self') forbids.
      const hls = new Hls({ enableWorker: false });
      hls.loadSource(url);
      hls.attachMedia(this.video);
      this.#hls = hls;
      this.root.dataset['engine'] = 'hls.js';
    } else if (this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.video.src = url;
      this.root.dataset['engine'] = 'native';
    } else {
      throw new Error('this browser cannot play HLS');
    }
  }

  destroy(): void {
    this.#hls?.destroy();
    this.video.removeAttribute('src');
    this.video.load();
  }
}
