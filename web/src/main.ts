// The web app's entry: the token setting, the navigation and the hash router that mounts one
// view at a time (each view cleans up its sessions and timers when left).
import { getToken, setToken } from './api.js';
import { byId, say } from './dom.js';
import { currentRoute, type View } from './route.js';
import { publishView } from './views/publish.js';
import { recordingView } from './views/recording.js';
import { recordingsView } from './views/recordings.js';
import { roomsView } from './views/rooms.js';
import { watchView } from './views/watch.js';

const VIEWS: Record<string, { view: View; title: string; nav: string }> = {
  publish: { view: publishView, title: 'Publish', nav: 'publish' },
  watch: { view: watchView, title: 'Watch', nav: 'watch' },
  rooms: { view: roomsView, title: 'Rooms', nav: 'rooms' },
  recordings: { view: recordingsView, title: 'Recordings', nav: 'recordings' },
  recording: { view: recordingView, title: 'Recording', nav: 'recordings' },
};

let unmount: (() => void) | null = null;
let lastKey = '';

function show(): void {
  const route = currentRoute();
  const name = route.view === 'recordings' && route.arg ? 'recording' : route.view;
  const entry = VIEWS[name] ?? VIEWS['publish']!;
  // Query-only changes made by the view itself (rememberParam) do not remount it.
  const key = `${name}/${route.arg ?? ''}`;
  if (key === lastKey) return;
  lastKey = key;
  unmount?.();
  const main = byId('main');
  main.replaceChildren();
  main.dataset['view'] = name;
  document.title = `${entry.title} · live-webrtc`;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[data-view]')) {
    if (a.dataset['view'] === entry.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  unmount = entry.view(main, route);
  // Keyboard and screen-reader users land on the new view, not at the top of the page.
  if (document.activeElement && document.activeElement !== document.body && !main.contains(document.activeElement)) main.focus();
}

function init(): void {
  const token = byId<HTMLInputElement>('token');
  token.value = getToken();
  token.addEventListener('change', () => {
    setToken(token.value);
    say(token.value ? 'Token saved in this browser.' : 'Token cleared.', 'ok');
  });
  window.addEventListener('hashchange', show);
  window.addEventListener('pagehide', () => unmount?.());
  show();
}

init();
