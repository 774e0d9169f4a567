// Publish: camera and microphone pickers, resolution and frame rate, a preview, the room, and
// live figures while publishing. Changing a device while live swaps the track without a new session.
import { ROOM_RE, getToken } from '../api.js';
import { describeError, field, h, say, setBadge } from '../dom.js';
import { FiguresPanel } from '../figures.js';
import { WebRtcLink, type LinkStateDetail } from '../link.js';
import { rememberParam, type View } from '../route.js';
import { StatsSampler } from '../stats.js';

const RESOLUTIONS: [string, number, number][] = [
  ['360p (640×360)', 640, 360],
  ['480p (854×480)', 854, 480],
  ['720p (1280×720)', 1280, 720],
  ['1080p (1920×1080)', 1920, 1080],
];
const FRAME_RATES = [15, 24, 30, 60];

function mediaError(err: unknown): string {
  const name = err && typeof err === 'object' && 'name' in err ? String(err.name) : '';
  if (name === 'NotAllowedError') return 'camera/microphone access was denied';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'no camera or microphone matches the choice';
  if (name === 'NotReadableError') return 'the camera or microphone is in use by another application';
  return describeError(err);
}

export const publishView: View = (root, route) => {
  const room = h('input', {
    id: 'pub-room',
    required: true,
    pattern: ROOM_RE.source.slice(1, -1),
    value: route.params.get('room') ?? 'demo',
    autocomplete: 'off',
  });
  const camera = h('select', { id: 'pub-camera' });
  const mic = h('select', { id: 'pub-mic' });
  const resolution = h(
    'select',
    { id: 'pub-resolution' },
    ...RESOLUTIONS.map(([label, w], i) => h('option', { value: String(i), text: label, selected: w === 1280 })),
  );
  const fps = h(
    'select',
    { id: 'pub-fps' },
    ...FRAME_RATES.map((f) => h('option', { value: String(f), text: `${f} fps`, selected: f === 30 })),
  );
  const preview = h('video', { id: 'preview', muted: true, playsinline: true, autoplay: true, 'aria-label': 'Camera preview' });
  preview.muted = true;
  const start = h('button', { id: 'publish', type: 'submit', class: 'primary', text: 'Publish' });
  const stop = h('button', { id: 'unpublish', type: 'button', text: 'Stop', disabled: true });
  const badge = h('span', { id: 'publish-state', class: 'badge', 'data-state': 'idle', text: 'not publishing' });
  const figures = new FiguresPanel('Sending');
  const form = h(
    'form',
    { class: 'controls', 'aria-label': 'Publish settings' },
    field('Room', room, 'Letters, digits, - and _ (up to 64).'),
    field('Camera', camera),
    field('Microphone', mic),
    field('Resolution', resolution),
    field('Frame rate', fps),
    h('div', { class: 'row' }, start, stop, badge),
  );
  root.append(
    h('h1', { text: 'Publish' }),
    h('div', { class: 'split' }, h('div', { class: 'stage' }, preview), h('div', {}, form, figures.root)),
  );

  let stream: MediaStream | null = null;
  let link: WebRtcLink | null = null;
  let sampler: StatsSampler | null = null;
  let gone = false;

  const constraints = (): MediaStreamConstraints => {
    const [, w, hgt] = RESOLUTIONS[Number(resolution.value)] ?? RESOLUTIONS[2]!;
    return {
      video: {
        ...(camera.value ? { deviceId: { exact: camera.value } } : {}),
        width: { ideal: w },
        height: { ideal: hgt },
        frameRate: { ideal: Number(fps.value) },
      },
      audio: mic.value ? { deviceId: { exact: mic.value } } : true,
    };
  };

  const listDevices = async (): Promise<void> => {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (sel: HTMLSelectElement, kind: MediaDeviceKind, none: string): void => {
      const keep = sel.value;
      const list = devices.filter((d) => d.kind === kind);
      sel.replaceChildren(...list.map((d, i) => h('option', { value: d.deviceId, text: d.label || `${none} ${i + 1}` })));
      if (list.some((d) => d.deviceId === keep)) sel.value = keep;
    };
    fill(camera, 'videoinput', 'Camera');
    fill(mic, 'audioinput', 'Microphone');
  };

  /** (Re)acquires camera and microphone; while publishing, the new tracks replace the old ones. */
  const acquire = async (): Promise<void> => {
    try {
      const next = await navigator.mediaDevices.getUserMedia(constraints());
      if (gone) return next.getTracks().forEach((t) => t.stop());
      const old = stream;
      stream = next;
      preview.srcObject = next;
      for (const sender of link?.pc?.getSenders() ?? []) {
        const t = next.getTracks().find((x) => x.kind === sender.track?.kind);
        if (t) await sender.replaceTrack(t);
      }
      old?.getTracks().forEach((t) => t.stop());
      await listDevices();
    } catch (err) {
      say(`Camera: ${mediaError(err)}`, 'error');
    }
  };

  const setRunning = (running: boolean): void => {
    start.disabled = running;
    stop.disabled = !running;
    room.disabled = running;
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!ROOM_RE.test(room.value)) return say('Room: letters, digits, - and _ only (up to 64).', 'error');
    void (async () => {
      if (!stream) await acquire();
      const s = stream;
      if (!s || gone) return;
      rememberParam('room', room.value);
      link = new WebRtcLink({
        kind: 'publish',
        endpoint: `/api/whip/publish/${encodeURIComponent(room.value)}`,
        token: getToken,
        setup: (pc) => {
          const current = stream ?? s;
          for (const t of current.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [current] });
        },
      });
      link.addEventListener('state', (ev) => {
        const { state, message } = (ev as CustomEvent<LinkStateDetail>).detail;
        setBadge(badge, state, state === 'live' ? `live in “${room.value}”` : message);
        badge.dataset['location'] = link?.location ?? '';
        // How many network changes the session survived by an ICE restart (tests and support read it).
        badge.dataset['iceRestarts'] = String(link?.iceRestarts ?? 0);
        if (state === 'live') sampler = link?.pc ? new StatsSampler(link.pc, 'send') : null;
        if (state === 'failed') {
          say(`Publish failed: ${message}`, 'error');
          link?.close();
        }
        if (state === 'idle' || state === 'failed') setRunning(false);
      });
      setRunning(true);
      link.start();
    })();
  });
  stop.addEventListener('click', () => {
    link?.close();
    link = null;
    sampler = null;
    figures.show(null);
    setBadge(badge, 'idle', 'not publishing');
    setRunning(false);
  });
  for (const sel of [camera, mic, resolution, fps]) sel.addEventListener('change', () => void acquire());

  const timer = setInterval(() => {
    if (sampler && link?.state === 'live')
      void sampler
        .sample()
        .then((f) => figures.show(f))
        .catch(() => {});
  }, 1000);
  if (typeof navigator.mediaDevices?.getUserMedia === 'function') void acquire();
  else say('Camera access needs a secure page (https:// or http://localhost).', 'error');

  return () => {
    gone = true;
    clearInterval(timer);
    link?.close();
    stream?.getTracks().forEach((t) => t.stop());
  };
};
