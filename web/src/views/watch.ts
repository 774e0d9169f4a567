// Watch: a WHEP player with live figures. It waits for a publisher, shows each publisher of the
// room as a tile of a grid (one audio + one video section per tile), and picks publishers up
// again when they return (the SFU attaches them to the session's free sections).
import { ROOM_RE, api, getToken } from '../api.js';
import { field, h, say, setBadge } from '../dom.js';
import { FiguresPanel } from '../figures.js';
import { WebRtcLink, type LinkStateDetail } from '../link.js';
import { rememberParam, type View } from '../route.js';
import { StatsSampler } from '../stats.js';

/** Tiles offered per session: the grid shows up to this many publishers at once. */
const TILES = 4;
/** A tile whose decoder made no frame for this long is shown as waiting (its publisher left). */
const STALE_MS = 3000;
/** The room has more publishers than tiles with video this long: a new session picks them up. */
const MISSING_MS = 4000;

interface Tile {
  root: HTMLElement;
  video: HTMLVideoElement;
  stream: MediaStream;
  videoMid: string | null;
  frames: number;
  lastFrameAt: number;
}

export const watchView: View = (root, route) => {
  const room = h('input', { id: 'watch-room', required: true, value: route.params.get('room') ?? 'demo', autocomplete: 'off' });
  const start = h('button', { id: 'watch', type: 'submit', class: 'primary', text: 'Watch' });
  const stop = h('button', { id: 'unwatch', type: 'button', text: 'Stop', disabled: true });
  const badge = h('span', { id: 'watch-state', class: 'badge', 'data-state': 'idle', text: 'not watching' });
  const grid = h('div', { id: 'grid', class: 'grid', 'data-live': '0', 'aria-live': 'polite' });
  const empty = h('p', { class: 'empty', id: 'grid-empty', text: 'Nobody is on screen yet.' });
  const figures = new FiguresPanel('Receiving');
  const form = h(
    'form',
    { class: 'controls', 'aria-label': 'Watch settings' },
    field('Room', room),
    h('div', { class: 'row' }, start, stop, badge),
  );
  root.append(
    h('h1', { text: 'Watch' }),
    h('div', { class: 'split' }, h('div', { class: 'stage' }, grid, empty), h('div', {}, form, figures.root)),
  );

  let link: WebRtcLink | null = null;
  let sampler: StatsSampler | null = null;
  let tiles: Tile[] = [];
  let missingSince = 0;
  let publishers = 0;

  const makeTiles = (): void => {
    tiles = Array.from({ length: TILES }, (_, i) => {
      const video = h('video', { playsinline: true, autoplay: true, 'aria-label': `Publisher ${i + 1}` });
      const stream = new MediaStream();
      video.srcObject = stream;
      const tile = h(
        'figure',
        { class: 'tile', hidden: true, 'data-tile': String(i) },
        video,
        h('figcaption', { text: `Publisher ${i + 1}` }),
      );
      return { root: tile, video, stream, videoMid: null, frames: 0, lastFrameAt: 0 };
    });
    grid.replaceChildren(...tiles.map((t) => t.root));
  };

  const play = (v: HTMLVideoElement): void => {
    v.play().catch((err: unknown) => {
      // Only the autoplay policy (NotAllowedError) calls for muting; an interrupted play() does not.
      if (v.muted || !(err instanceof DOMException && err.name === 'NotAllowedError')) return;
      v.muted = true;
      void v.play().catch(() => {});
      say('Autoplay with sound was blocked: playing muted; unmute with the video controls.', 'warn');
      v.controls = true;
    });
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!ROOM_RE.test(room.value)) return say('Room: letters, digits, - and _ only (up to 64).', 'error');
    rememberParam('room', room.value);
    makeTiles();
    link = new WebRtcLink({
      kind: 'play',
      endpoint: `/api/whep/play/${encodeURIComponent(room.value)}`,
      token: getToken,
      setup: (pc) => {
        makeTiles();
        const pairs = tiles.map((t) => ({
          t,
          a: pc.addTransceiver('audio', { direction: 'recvonly' }),
          v: pc.addTransceiver('video', { direction: 'recvonly' }),
        }));
        pc.addEventListener('track', (e) => {
          const pair = pairs.find((p) => p.a === e.transceiver || p.v === e.transceiver);
          if (!pair) return;
          pair.t.stream.addTrack(e.track);
          if (e.track.kind === 'video') pair.t.videoMid = e.transceiver.mid;
          play(pair.t.video);
        });
      },
    });
    link.addEventListener('state', (e) => {
      const { state, message } = (e as CustomEvent<LinkStateDetail>).detail;
      setBadge(badge, state === 'live' ? 'connected' : state, state === 'live' ? 'connected' : message);
      if (state === 'live') sampler = link?.pc ? new StatsSampler(link.pc, 'receive') : null;
      if (state === 'failed') say(`Watch failed: ${message}`, 'error');
      if (state === 'idle' || state === 'failed') {
        start.disabled = false;
        stop.disabled = true;
      }
    });
    start.disabled = true;
    stop.disabled = false;
    link.start();
  });
  stop.addEventListener('click', () => {
    link?.close();
    link = null;
    sampler = null;
    figures.show(null);
    grid.replaceChildren();
    grid.dataset['live'] = '0';
    empty.hidden = false;
    setBadge(badge, 'idle', 'not watching');
  });

  // Once a second: figures, and which tiles have a publisher (frames still being decoded).
  const timer = setInterval(() => {
    if (!sampler || link?.state !== 'live') return;
    void sampler
      .sample()
      .then((f) => {
        figures.show(f);
        const now = Date.now();
        let live = 0;
        for (const t of tiles) {
          const frames = t.videoMid !== null ? (f.framesByMid.get(t.videoMid) ?? 0) : 0;
          if (frames > t.frames) t.lastFrameAt = now;
          t.frames = frames;
          const on = now - t.lastFrameAt < STALE_MS;
          t.root.hidden = !on;
          if (on) live++;
        }
        grid.dataset['live'] = String(live);
        // A publisher who joined after this session started is not always received on it (see
        // WebRtcLink stallMs): when the room has more publishers than tiles, start a new session.
        if (live < Math.min(publishers, TILES)) {
          missingSince ||= now;
          if (now - missingSince > MISSING_MS) {
            missingSince = 0;
            link?.renew();
          }
        } else missingSince = 0;
        grid.dataset['count'] = String(Math.min(live, TILES));
        empty.hidden = live > 0;
        empty.textContent = 'Waiting for the publisher…';
        if (link?.state === 'live')
          setBadge(badge, live > 0 ? 'live' : 'waiting', live > 0 ? `live: ${live} on screen` : 'waiting for the publisher to return…');
      })
      .catch(() => {});
  }, 1000);
  // The room's publisher count (when this token may read it; otherwise only stalls renew).
  const roomTimer = setInterval(() => {
    if (!link || link.closed) return;
    void api
      .room(room.value)
      .then((r) => (publishers = r.publishers))
      .catch(() => (publishers = 0));
  }, 2000);
  if (route.params.get('autoplay') === '1') start.click();

  return () => {
    clearInterval(timer);
    clearInterval(roomTimer);
    link?.close();
  };
};
