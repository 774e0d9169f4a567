// live-webrtc web page: publish the camera over WHIP, watch over WHEP, start/stop recordings and
// browse/download/delete them through /api/v1. Plain ES module, no build step, same origin only.
// Contract: /work/shared/API.md (README "One HTTP origin").

const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;
const POLL_MS = 2000;
const ICE_GATHER_MS = 2000;
const CONNECT_TIMEOUT_MS = 15000;
const WAIT_FOR_PUBLISHER_MS = 2000;
const RECORDINGS_LIMIT = 20;
const LS_TOKEN = 'live-webrtc.token';
const LS_ROOM = 'live-webrtc.room';
const LS_ALL = 'live-webrtc.recordings-all';
const RUNNING = new Set(['starting', 'active']);
const FINAL = new Set(['ready', 'failed']);

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const el = {
  room: /** @type {HTMLInputElement} */ ($('room')),
  roomHint: $('room-hint'),
  token: /** @type {HTMLInputElement} */ ($('token')),
  publish: /** @type {HTMLButtonElement} */ ($('publish')),
  unpublish: /** @type {HTMLButtonElement} */ ($('unpublish')),
  publishState: $('publish-state'),
  preview: /** @type {HTMLVideoElement} */ ($('preview')),
  previewEmpty: $('preview-empty'),
  watch: /** @type {HTMLButtonElement} */ ($('watch')),
  unwatch: /** @type {HTMLButtonElement} */ ($('unwatch')),
  watchState: $('watch-state'),
  remote: /** @type {HTMLVideoElement} */ ($('remote')),
  remoteEmpty: $('remote-empty'),
  recordStart: /** @type {HTMLButtonElement} */ ($('record-start')),
  recordStop: /** @type {HTMLButtonElement} */ ($('record-stop')),
  recordState: $('record-state'),
  recordInfo: $('record-info'),
  rooms: /** @type {HTMLTableElement} */ ($('rooms')),
  roomsNote: $('rooms-note'),
  roomsRefresh: $('rooms-refresh'),
  recordings: /** @type {HTMLTableElement} */ ($('recordings')),
  recordingsNote: $('recordings-note'),
  recordingsAll: /** @type {HTMLInputElement} */ ($('recordings-all')),
  recordingsRefresh: $('recordings-refresh'),
  player: /** @type {HTMLVideoElement} */ ($('player')),
  playerCard: $('player-card'),
  playerInfo: $('player-info'),
  playerClose: $('player-close'),
  status: $('status'),
  statusDismiss: $('status-dismiss'),
};

// ---------------------------------------------------------------------------------------------
// Small helpers: storage, formatting, status line

function load(key) {
  try {
    return localStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

function save(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    /* storage unavailable (private mode, file://): the value just is not remembered */
  }
}

/** The token as typed, without a pasted "Bearer " prefix. */
function token() {
  return el.token.value.trim().replace(/^bearer\s+/i, '');
}

/** The room name if valid, else null. */
function roomValue() {
  const v = el.room.value.trim();
  return ROOM_RE.test(v) ? v : null;
}

const enc = encodeURIComponent;

function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  const total = Math.floor(ms / 100) / 10; // tenths of a second, rounded down
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = (total % 60).toFixed(1).padStart(4, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

/** Duration of a recording: the server's figure, or the time elapsed so far while it runs. */
function recordingDuration(rec) {
  if (typeof rec.durationMs === 'number') return { ms: rec.durationMs, running: false };
  if (RUNNING.has(rec.status) && rec.startedAt) {
    const ms = Date.now() - new Date(rec.startedAt).getTime();
    if (Number.isFinite(ms)) return { ms: Math.max(0, ms), running: true };
  }
  return { ms: null, running: false };
}

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.className = String(v);
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'title' || k === 'href' || k === 'download') {
      node.setAttribute(k, v === true ? '' : String(v));
    } else node[k] = v;
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** Status line (the page's one place for action results and errors). */
function say(message, kind = 'info') {
  el.status.textContent = message;
  el.status.dataset.kind = kind;
  el.status.title = new Date().toLocaleTimeString();
}

function describe(err) {
  if (err instanceof ApiError) return err.status ? `${err.message} (${err.status} ${err.code})` : err.message;
  if (err && typeof err === 'object' && 'message' in err) return String(err.message) || String(err);
  return String(err);
}

function fail(context, err) {
  console.error(context, err);
  say(`${context}: ${describe(err)}`, 'error');
}

// ---------------------------------------------------------------------------------------------
// HTTP: every request carries the token when one is set; errors become ApiError with the
// server's {"error": {"code", "message"}}.

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

async function errorFrom(res) {
  let text = '';
  try {
    text = await res.text();
  } catch {
    /* body unreadable: fall back to the status line */
  }
  let code = `http_${res.status}`;
  let message = '';
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === 'object' && body.error) {
      if (body.error.code) code = String(body.error.code);
      if (body.error.message) message = String(body.error.message);
    }
  } catch {
    /* not JSON */
  }
  if (!message) {
    const plain = text.trim();
    message = plain && plain.length <= 200 && !plain.startsWith('<') ? plain : `${res.status} ${res.statusText || 'error'}`.trim();
  }
  return new ApiError(res.status, code, message);
}

function authHeaders(extra = {}) {
  const headers = new Headers(extra);
  const t = token();
  if (t) headers.set('Authorization', `Bearer ${t}`);
  return headers;
}

/** fetch with auth; throws ApiError for network failures and non-2xx answers. */
async function api(method, url, { body, headers, keepalive } = {}) {
  const init = { method, headers: authHeaders(headers), cache: 'no-store', keepalive };
  if (body !== undefined) init.body = body;
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, 'network_error', `cannot reach the server (${describe(err)})`);
  }
  if (!res.ok) throw await errorFrom(res);
  return res;
}

async function apiJson(method, url) {
  const res = await api(method, url, { headers: { Accept: 'application/json' } });
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'bad_response', 'the server answered with something that is not JSON');
  }
}

// ---------------------------------------------------------------------------------------------
// WHIP / WHEP sessions

/** ICE servers learned from the last WHIP/WHEP answer's Link headers; used for new connections. */
let learnedIceServers = [];

/** Splits `s` at `sep` outside <…> and "…" (with backslash escapes). */
function splitOutside(s, sep) {
  const parts = [];
  let cur = '';
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inQuote) {
      cur += c;
      if (c === '\\' && i + 1 < s.length) cur += s[++i];
      else if (c === '"') inQuote = false;
    } else if (inAngle) {
      cur += c;
      if (c === '>') inAngle = false;
    } else if (c === '"') {
      inQuote = true;
      cur += c;
    } else if (c === '<') {
      inAngle = true;
      cur += c;
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/**
 * RFC 9725 §4.6 ICE servers from a (combined) Link header:
 * `<turn:host?transport=udp>; rel="ice-server"; username="u"; credential="p"; credential-type="password"`.
 */
function parseIceServers(header) {
  if (!header) return [];
  const servers = [];
  for (const link of splitOutside(header, ',')) {
    const m = /^\s*<([^>]*)>(.*)$/s.exec(link);
    if (!m) continue;
    const params = {};
    for (const p of splitOutside(m[2], ';')) {
      const kv = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s";,]*)))?\s*$/s.exec(p);
      if (!kv) continue;
      const key = kv[1].toLowerCase();
      if (key in params) continue; // first occurrence wins
      params[key] = kv[2] !== undefined ? kv[2].replace(/\\(.)/gs, '$1') : (kv[3] ?? '');
    }
    if (
      !String(params.rel ?? '')
        .toLowerCase()
        .split(/\s+/)
        .includes('ice-server')
    )
      continue;
    const url = m[1].trim();
    if (!/^(stuns?|turns?):/i.test(url)) continue;
    const server = { urls: url };
    if (params.username !== undefined && params.credential !== undefined) {
      server.username = params.username;
      server.credential = params.credential;
    } else if (/^turns?:/i.test(url)) continue; // a TURN server without credentials is unusable
    servers.push(server);
  }
  return servers;
}

const sameServers = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function newPeerConnection(iceServers) {
  if (typeof RTCPeerConnection !== 'function') throw new Error('this browser does not support WebRTC');
  try {
    return new RTCPeerConnection({ iceServers });
  } catch (err) {
    if (!iceServers.length) throw err;
    console.warn('ICE servers rejected, continuing without them', iceServers, err);
    return new RTCPeerConnection();
  }
}

/** Resolves when ICE gathering completes, or after `ms` at the latest (then whatever was gathered is sent). */
function iceGathered(pc, ms = ICE_GATHER_MS) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = () => pc.iceGatheringState === 'complete' && done();
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

/** 'connected' | 'failed' | 'timeout' | 'closed' (the user stopped the session meanwhile). */
function connectionOutcome(session, pc, ms = CONNECT_TIMEOUT_MS) {
  return new Promise((resolve) => {
    const finish = (outcome) => {
      clearTimeout(timer);
      pc.removeEventListener('connectionstatechange', check);
      session.abort.signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const check = () => {
      if (pc.connectionState === 'connected') finish('connected');
      else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') finish('failed');
    };
    const onAbort = () => finish('closed');
    const timer = setTimeout(() => finish('timeout'), ms);
    pc.addEventListener('connectionstatechange', check);
    session.abort.signal.addEventListener('abort', onAbort);
    if (session.abort.signal.aborted) onAbort();
    else check();
  });
}

/** The live sessions: at most one publisher and one viewer per page. */
const sessions = { publish: null, watch: null };

const KIND = {
  publish: { label: 'Publishing', badge: () => el.publishState, video: () => el.preview, empty: () => el.previewEmpty, global: '__pub' },
  watch: { label: 'Watching', badge: () => el.watchState, video: () => el.remote, empty: () => el.remoteEmpty, global: '__view' },
};

function setBadge(node, state, text) {
  node.dataset.state = state;
  node.textContent = text ?? state;
}

function showVideo(kind, stream) {
  const k = KIND[kind];
  k.video().srcObject = stream;
  k.empty().hidden = !!stream;
  if (kind === 'watch') el.remote.controls = !!stream; // volume/fullscreen only while watching
}

function newSession(kind, room) {
  const session = { kind, room, pc: null, stream: null, location: null, closed: false, abort: new AbortController() };
  sessions[kind] = session;
  setBadge(KIND[kind].badge(), 'connecting', 'connecting…');
  say(`${KIND[kind].label === 'Publishing' ? 'Publishing to' : 'Watching'} room “${room}”: connecting…`);
  updateControls();
  return session;
}

/** Deletes a WHIP/WHEP session resource; a 404 (already gone) is fine. */
async function deleteSessionResource(url) {
  try {
    await api('DELETE', url);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return;
    fail('Ending the session on the server failed', err);
  }
}

/** Ends a session locally (and on the server, when it has a Location). Idempotent. */
async function endSession(session) {
  if (session.closed) return;
  session.closed = true;
  session.abort.abort();
  if (sessions[session.kind] === session) sessions[session.kind] = null;
  try {
    session.pc?.close();
  } catch {
    /* already closed */
  }
  if (window[KIND[session.kind].global] === session.pc) window[KIND[session.kind].global] = undefined;
  for (const t of session.stream?.getTracks() ?? []) t.stop();
  showVideo(session.kind, null);
  setBadge(KIND[session.kind].badge(), 'idle', 'idle');
  updateControls();
  const loc = session.location;
  session.location = null;
  if (loc) await deleteSessionResource(loc);
}

/**
 * Offer → POST (WHIP/WHEP) → answer → wait for the connection. If the first attempt cannot
 * connect and the answer advertised ICE servers (e.g. TURN) that were not used, retries once with
 * them. Resolves when connected (or when the user stopped meanwhile); throws otherwise.
 */
async function negotiate(session, url, setup) {
  let servers = learnedIceServers;
  for (let attempt = 1; ; attempt++) {
    const pc = newPeerConnection(servers);
    session.pc = pc;
    window[KIND[session.kind].global] = pc; // handy for debugging and tests (getStats)
    setup(pc);
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    if (session.closed) return;

    const res = await api('POST', url, {
      body: pc.localDescription.sdp,
      headers: { 'Content-Type': 'application/sdp', Accept: 'application/sdp' },
    });
    const loc = res.headers.get('Location');
    // Relative to the URL that answered (after a 307, that is the other instance).
    const location = loc ? new URL(loc, res.url || window.location.href).href : null;
    const answer = await res.text();
    const advertised = parseIceServers(res.headers.get('Link'));
    if (advertised.length) learnedIceServers = advertised;
    if (session.closed) {
      // Stopped while the POST was in flight: the server created a session nobody will use.
      if (location) await deleteSessionResource(location);
      return;
    }
    session.location = location;
    if (!location) say('The server sent no Location header: this session cannot be ended explicitly.', 'warn');
    if (!answer.trim()) throw new Error(`the server answered ${res.status} without an SDP answer`);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });

    const outcome = await connectionOutcome(session, pc);
    if (outcome === 'closed') return;
    if (outcome === 'connected') {
      pc.addEventListener('connectionstatechange', () => {
        if (session.closed) return;
        const badge = KIND[session.kind].badge();
        if (pc.connectionState === 'connected') setBadge(badge, 'live', 'live');
        else if (pc.connectionState === 'disconnected') setBadge(badge, 'connecting', 'reconnecting…');
        else if (pc.connectionState === 'failed') {
          say(`${KIND[session.kind].label} in room “${session.room}”: the connection was lost.`, 'error');
          void endSession(session);
        }
      });
      return;
    }
    if (attempt === 1 && advertised.length && !sameServers(advertised, servers)) {
      say('Could not connect directly; retrying with the ICE servers the server advertised…', 'warn');
      const old = session.location;
      session.location = null;
      pc.close();
      if (old) await deleteSessionResource(old);
      if (session.closed) return;
      servers = advertised;
      continue;
    }
    throw new Error(
      outcome === 'timeout'
        ? `no media connection after ${CONNECT_TIMEOUT_MS / 1000} s (ICE/DTLS); a firewall may block UDP — configure TURN`
        : 'the media connection failed (ICE); a firewall may block UDP — configure TURN',
    );
  }
}

function mediaError(err) {
  const name = err && typeof err === 'object' && 'name' in err ? err.name : '';
  if (name === 'NotAllowedError') return new Error('camera/microphone access was denied');
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return new Error('no camera or microphone was found');
  if (name === 'NotReadableError') return new Error('the camera or microphone is in use by another application');
  return err;
}

async function startPublish() {
  const room = roomValue();
  if (!room || sessions.publish) return;
  if (!navigator.mediaDevices?.getUserMedia) {
    say('Publish failed: camera access needs a secure page (https:// or http://localhost).', 'error');
    return;
  }
  const session = newSession('publish', room);
  try {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
      });
    } catch (err) {
      throw mediaError(err);
    }
    if (session.closed) {
      for (const t of stream.getTracks()) t.stop();
      return;
    }
    session.stream = stream;
    showVideo('publish', stream);
    await negotiate(session, `/api/whip/publish/${enc(room)}`, (pc) => {
      for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    });
    if (session.closed) return;
    setBadge(el.publishState, 'live', 'live');
    say(`Publishing to room “${room}”.`, 'ok');
    schedulePoll();
  } catch (err) {
    if (session.closed) return;
    fail('Publish failed', err);
    await endSession(session);
  }
}

async function stopPublish() {
  const session = sessions.publish;
  if (!session) return;
  await endSession(session);
  say(`Stopped publishing to room “${session.room}”.`);
  schedulePoll();
}

function playRemote() {
  el.remote.play().catch(() => {
    if (el.remote.muted) return;
    el.remote.muted = true;
    el.remote.play().catch(() => {});
    say('Autoplay with sound was blocked: the video plays muted — unmute it with the player controls.', 'warn');
  });
}

/** Resolves after `ms`, or at once when the session is stopped. */
function pause(session, ms) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    session.abort.signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function startWatch() {
  const room = roomValue();
  if (!room || sessions.watch) return;
  const session = newSession('watch', room);
  // Watching the room you publish to from this page would echo your microphone.
  el.remote.muted = !!sessions.publish && sessions.publish.room === room;
  try {
    // Nobody publishes yet: wait for them here instead of making the viewer reload. Once
    // connected, a publisher who leaves and comes back is picked up by the server.
    for (;;) {
      try {
        await negotiate(session, `/api/whep/play/${enc(room)}`, setupWatch(session));
        break;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404 && err.code === 'no_publisher') || session.closed) throw err;
        session.pc?.close();
        setBadge(el.watchState, 'connecting', 'waiting for a publisher…');
        say(`Room “${room}” has no publisher yet: waiting for one…`);
        await pause(session, WAIT_FOR_PUBLISHER_MS);
        if (session.closed) return;
      }
    }
    if (session.closed) return;
    setBadge(el.watchState, 'live', 'live');
    say(`Watching room “${room}”${el.remote.muted ? ' (muted: you publish to it from this page)' : ''}.`, 'ok');
    schedulePoll();
  } catch (err) {
    if (session.closed) return;
    fail('Watch failed', err);
    await endSession(session);
  }
}

/** Sets up a recvonly peer connection whose tracks play in the remote video. */
function setupWatch(session) {
  return (pc) => {
    const stream = new MediaStream();
    session.stream = stream;
    showVideo('watch', stream);
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addEventListener('track', (ev) => {
      if (session.pc !== pc || session.closed) return;
      stream.addTrack(ev.track);
      playRemote();
    });
  };
}

async function stopWatch() {
  const session = sessions.watch;
  if (!session) return;
  await endSession(session);
  say(`Stopped watching room “${session.room}”.`);
  schedulePoll();
}

// Leaving the page ends the sessions on the server too (best effort).
window.addEventListener('pagehide', () => {
  for (const session of Object.values(sessions)) {
    if (!session?.location) continue;
    fetch(session.location, { method: 'DELETE', headers: authHeaders(), keepalive: true }).catch(() => {});
    session.location = null;
  }
});

// ---------------------------------------------------------------------------------------------
// Recording of the selected room

/** The selected room's current (or last known) recording. */
const current = { room: null, rec: null, pending: false };

function renderRecording() {
  const rec = current.rec;
  if (!rec) {
    setBadge(el.recordState, current.pending ? 'connecting' : 'idle', current.pending ? 'requesting…' : 'not recording');
    el.recordInfo.textContent = roomValue() ? `No recording of room “${roomValue()}” in progress.` : 'Enter a valid room name.';
  } else {
    const d = recordingDuration(rec);
    const state = rec.status === 'active' ? 'live' : rec.status === 'failed' ? 'error' : FINAL.has(rec.status) ? 'idle' : 'connecting';
    const label = rec.status === 'active' ? `recording ${fmtDuration(d.ms)}` : rec.status;
    setBadge(el.recordState, state, label);
    const parts = [`Recording ${rec.id} of room “${rec.room}”: ${rec.status}`];
    if (rec.startedAt) parts.push(`started ${fmtTime(rec.startedAt)}`);
    if (d.ms !== null && !d.running) parts.push(`duration ${fmtDuration(d.ms)}`);
    if (rec.status === 'failed' && rec.error) parts.push(`error: ${rec.error.message ?? rec.error.code}`);
    el.recordInfo.textContent = parts.join(' · ') + '.';
  }
  updateControls();
}

async function startRecording() {
  const room = roomValue();
  if (!room || current.pending) return;
  current.pending = true;
  renderRecording();
  try {
    const rec = await apiJson('POST', `/api/v1/rooms/${enc(room)}/recordings`);
    if (roomValue() === room && rec) {
      current.room = room;
      current.rec = rec;
    }
    say(`Recording ${rec?.id ?? ''} of room “${room}” started.`, 'ok');
  } catch (err) {
    fail('Start recording failed', err);
  } finally {
    current.pending = false;
    renderRecording();
    schedulePoll();
  }
}

async function stopRecording() {
  const rec = current.rec;
  if (!rec || current.pending) return;
  current.pending = true;
  updateControls();
  try {
    const updated = await apiJson('POST', `/api/v1/recordings/${enc(rec.id)}/stop`);
    if (updated && current.rec?.id === updated.id) current.rec = updated;
    say(`Recording ${rec.id} is stopping; the file appears in the table when it is ready.`, 'ok');
  } catch (err) {
    fail('Stop recording failed', err);
  } finally {
    current.pending = false;
    renderRecording();
    schedulePoll();
  }
}

/** Follows the selected room's recording: the room's recordingId, or the one we know until final. */
async function refreshCurrentRecording(roomsList) {
  const room = roomValue();
  if (current.room !== room) {
    current.room = room;
    current.rec = null;
  }
  if (!room) return renderRecording();
  const info = roomsList?.find((r) => r.name === room);
  const id = info?.recordingId ?? (current.rec && !FINAL.has(current.rec.status) ? current.rec.id : null);
  if (id && (current.rec?.id !== id || !FINAL.has(current.rec.status))) {
    try {
      const rec = await apiJson('GET', `/api/v1/recordings/${enc(id)}`);
      if (current.room === room) current.rec = rec;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        if (current.rec?.id === id) current.rec = null;
      } else throw err;
    }
  }
  renderRecording();
}

// ---------------------------------------------------------------------------------------------
// Tables (rows are keyed and cells only rebuilt when their content changed, so polling does not
// steal focus or clicks)

function setCell(td, signature, build) {
  if (td.dataset.sig === signature) return;
  td.dataset.sig = signature;
  td.replaceChildren(...[build()].flat());
}

function syncRows(tbody, items, keyOf, make, update) {
  const existing = new Map([...tbody.rows].filter((r) => r.dataset.key !== undefined).map((r) => [r.dataset.key, r]));
  const wanted = new Set();
  items.forEach((item, i) => {
    const key = keyOf(item);
    wanted.add(key);
    let row = existing.get(key);
    if (!row) {
      row = make(item);
      row.dataset.key = key;
    }
    update(row, item);
    if (tbody.rows[i] !== row) tbody.insertBefore(row, tbody.rows[i] ?? null);
  });
  for (const row of [...tbody.rows]) if (!wanted.has(row.dataset.key ?? '')) row.remove();
}

function note(node, text, kind = 'info') {
  node.textContent = text;
  node.dataset.kind = kind;
  node.hidden = !text;
}

let roomsSnapshot = null;

async function refreshRooms() {
  try {
    const body = await apiJson('GET', '/api/v1/rooms');
    const rooms = Array.isArray(body?.rooms) ? body.rooms : [];
    roomsSnapshot = rooms;
    renderRooms(rooms);
    note(el.roomsNote, rooms.length ? '' : 'No active rooms. Publish to create one.');
  } catch (err) {
    roomsSnapshot = null;
    note(el.roomsNote, `Could not load rooms: ${describe(err)}`, 'error');
  }
  return roomsSnapshot;
}

function renderRooms(rooms) {
  const selected = roomValue();
  syncRows(
    el.rooms.tBodies[0],
    rooms,
    (r) => r.name,
    () => h('tr', {}, h('td'), h('td', { class: 'num' }), h('td', { class: 'num' }), h('td')),
    (row, r) => {
      const [name, pubs, subs, recCell] = row.cells;
      const locked = !!(sessions.publish || sessions.watch);
      if (r.name === selected) row.setAttribute('aria-current', 'true');
      else row.removeAttribute('aria-current');
      setCell(name, `${r.name}|${locked}|${r.name === selected}`, () =>
        locked || r.name === selected
          ? h('span', { class: 'mono', text: r.name })
          : h('button', { type: 'button', class: 'link mono', 'data-room': r.name, title: `Select room ${r.name}`, text: r.name }),
      );
      setCell(pubs, String(r.publishers), () => String(r.publishers ?? 0));
      setCell(subs, String(r.subscribers), () => String(r.subscribers ?? 0));
      setCell(recCell, String(r.recordingId), () => (r.recordingId ? h('span', { class: 'mono rec-dot', text: r.recordingId }) : '—'));
    },
  );
}

async function refreshRecordings() {
  const all = el.recordingsAll.checked;
  const room = roomValue();
  const tbody = el.recordings.tBodies[0];
  if (!all && !room) {
    tbody.replaceChildren();
    note(el.recordingsNote, 'Enter a valid room name, or tick “All rooms”.');
    return;
  }
  const q = new URLSearchParams({ limit: String(RECORDINGS_LIMIT) });
  if (!all && room) q.set('room', room);
  try {
    const body = await apiJson('GET', `/api/v1/recordings?${q}`);
    // The filter may have changed while the request was in flight.
    if (all !== el.recordingsAll.checked || (!all && room !== roomValue())) return;
    const items = Array.isArray(body?.items) ? body.items : [];
    renderRecordings(items);
    const where = all ? 'any room' : `room “${room}”`;
    note(
      el.recordingsNote,
      items.length === 0 ? `No recordings in ${where}.` : body?.nextCursor ? `The newest ${items.length} recordings in ${where}.` : '',
    );
  } catch (err) {
    note(el.recordingsNote, `Could not load recordings: ${describe(err)}`, 'error');
  }
}

const EXT = {
  'video/webm': 'webm',
  'audio/webm': 'webm',
  'video/x-matroska': 'mkv',
  'video/matroska': 'mkv',
  'video/mp4': 'mp4',
  'audio/mp4': 'm4a',
  'application/vnd.apple.mpegurl': 'm3u8',
  'application/x-mpegurl': 'm3u8',
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'application/zip': 'zip',
};

function outputFileName(rec, out) {
  const ext =
    EXT[
      String(out.contentType ?? '')
        .split(';')[0]
        .trim()
        .toLowerCase()
    ];
  return `${rec.room}-${rec.id}-${out.name}${ext ? `.${ext}` : ''}`;
}

/** Outputs the page plays in its player (HLS through hls.js where the browser lacks it). */
const PLAYABLE = new Set(['mp4', 'hls', 'composite', 'audio']);
let hlsPlayer = null;

function closePlayer() {
  hlsPlayer?.destroy();
  hlsPlayer = null;
  el.player.pause();
  el.player.removeAttribute('src');
  el.player.removeAttribute('poster');
  el.player.load();
  el.playerCard.hidden = true;
}

/**
 * Plays an output in the page. A <video> cannot send the Authorization header, so with a token
 * the output list's short-lived signed URLs are used (HLS playlists carry the token on).
 */
async function playOutput(id, name) {
  try {
    const body = await apiJson('GET', `/api/v1/recordings/${enc(id)}/outputs`);
    const items = Array.isArray(body?.items) ? body.items : [];
    const out = items.find((o) => o.name === name);
    if (!out || out.status !== 'ready') throw new Error(`${name} is not ready`);
    closePlayer();
    const src = out.signedUrl ?? out.url;
    const poster = items.find((o) => o.name === 'poster' && o.status === 'ready');
    if (poster) el.player.poster = poster.signedUrl ?? poster.url;
    if (name === 'hls' && !el.player.canPlayType('application/vnd.apple.mpegurl')) {
      const Hls = /** @type {any} */ (window).Hls;
      if (!Hls?.isSupported()) throw new Error('this browser cannot play HLS');
      hlsPlayer = new Hls();
      hlsPlayer.loadSource(src);
      hlsPlayer.attachMedia(el.player);
    } else {
      el.player.src = src;
    }
    el.playerInfo.textContent = `Recording ${id}: ${name}${out.size ? ` (${fmtBytes(out.size)})` : ''}`;
    el.playerCard.hidden = false;
    el.playerCard.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    await el.player.play().catch(() => {});
  } catch (err) {
    fail(`Playing ${name} of ${id} failed`, err);
  }
}

function renderOutputs(rec) {
  const outputs = Array.isArray(rec.outputs) ? rec.outputs : [];
  if (!outputs.length) return h('span', { class: 'muted', text: '—' });
  return h(
    'ul',
    { class: 'outputs' },
    outputs.map((o) => {
      if (o.status === 'ready') {
        return h(
          'li',
          {},
          h('a', {
            href: `/api/v1/recordings/${enc(rec.id)}/outputs/${enc(o.name)}`,
            download: outputFileName(rec, o),
            'data-output': o.name,
            'data-id': rec.id,
            title: `Download ${o.name}${o.contentType ? ` (${o.contentType})` : ''}`,
            text: o.name,
          }),
          o.size !== null && o.size !== undefined ? h('span', { class: 'muted', text: ` ${fmtBytes(o.size)}` }) : null,
          // An <img> cannot send the token header: the poster is shown inline on open servers only.
          o.name === 'poster' && !token()
            ? h('img', {
                class: 'poster-thumb',
                src: `/api/v1/recordings/${enc(rec.id)}/outputs/poster`,
                alt: `Poster of ${rec.id}`,
                loading: 'lazy',
              })
            : null,
          PLAYABLE.has(o.name)
            ? h('button', {
                type: 'button',
                class: 'small',
                'data-play': o.name,
                'data-id': rec.id,
                'aria-label': `Play ${o.name} of ${rec.id}`,
                text: '▶',
              })
            : null,
        );
      }
      const progress = o.status === 'processing' && typeof o.progress === 'number' ? ` ${Math.round(o.progress * 100)}%` : '';
      const eta = o.status === 'processing' && typeof o.etaSeconds === 'number' ? `, ${Math.ceil(o.etaSeconds)} s left` : '';
      const why = o.status === 'failed' && o.error ? ` (${o.error.code})` : '';
      return h('li', { class: 'muted', 'data-output': o.name, title: o.error?.message }, `${o.name}: ${o.status}${progress}${eta}${why}`);
    }),
  );
}

function renderRecordings(items) {
  syncRows(
    el.recordings.tBodies[0],
    items,
    (r) => r.id,
    () =>
      h(
        'tr',
        {},
        h('td', { class: 'mono' }),
        h('td', { class: 'mono' }),
        h('td'),
        h('td', { class: 'nowrap' }),
        h('td', { class: 'num nowrap' }),
        h('td'),
        h('td', { class: 'row-actions' }),
      ),
    (row, rec) => {
      const [idCell, roomCell, statusCell, startedCell, durCell, outCell, actCell] = row.cells;
      row.dataset.status = rec.status;
      setCell(idCell, rec.id, () => h('span', { title: rec.id, text: rec.id }));
      setCell(roomCell, rec.room, () => rec.room);
      const errText = rec.status === 'failed' && rec.error ? (rec.error.message ?? rec.error.code) : '';
      setCell(statusCell, `${rec.status}|${errText}`, () =>
        h('span', { class: 'status-pill', 'data-status': rec.status, title: errText || undefined, text: rec.status }),
      );
      setCell(startedCell, String(rec.startedAt), () =>
        rec.startedAt ? h('time', { dateTime: rec.startedAt, text: fmtTime(rec.startedAt) }) : '—',
      );
      const d = recordingDuration(rec);
      durCell.dataset.durationMs = d.ms === null ? '' : String(d.ms);
      setCell(durCell, `${fmtDuration(d.ms)}|${d.running}`, () =>
        d.running ? h('span', { class: 'muted', text: fmtDuration(d.ms) }) : fmtDuration(d.ms),
      );
      setCell(outCell, JSON.stringify(rec.outputs ?? []), () => renderOutputs(rec));
      setCell(actCell, rec.id, () =>
        h('button', {
          type: 'button',
          class: 'small danger',
          'data-action': 'delete',
          'data-id': rec.id,
          'aria-label': `Delete recording ${rec.id}`,
          text: 'Delete',
        }),
      );
    },
  );
}

async function deleteRecording(id, button) {
  button.disabled = true;
  try {
    await api('DELETE', `/api/v1/recordings/${enc(id)}`);
    el.recordings.tBodies[0].querySelector(`tr[data-key="${CSS.escape(id)}"]`)?.remove();
    if (current.rec?.id === id) current.rec = null;
    renderRecording();
    say(`Recording ${id} deleted.`, 'ok');
  } catch (err) {
    button.disabled = false;
    fail(`Delete of recording ${id} failed`, err);
  } finally {
    schedulePoll();
  }
}

/** With a token the link cannot send the header, so download through fetch + a blob URL. */
async function downloadWithToken(a) {
  const name = a.getAttribute('download') || 'download';
  say(`Downloading ${name}…`);
  try {
    const res = await api('GET', a.href);
    const blob = await res.blob();
    const cd = res.headers.get('Content-Disposition') ?? '';
    const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: m ? decodeURIComponent(m[1]) : name });
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    say(`Downloaded ${name} (${fmtBytes(blob.size)}).`, 'ok');
  } catch (err) {
    console.error('download', err);
    const hint = err instanceof ApiError && err.status === 0 ? ' (with S3 storage, the bucket must allow CORS from this page)' : '';
    say(`Download of ${name} failed: ${describe(err)}${hint}`, 'error');
  }
}

// ---------------------------------------------------------------------------------------------
// Controls, polling, wiring

function updateControls() {
  const room = roomValue();
  const locked = !!(sessions.publish || sessions.watch);
  el.room.readOnly = locked;
  el.room.title = locked ? 'Stop publishing and watching to change the room' : '';
  el.publish.disabled = !room || !!sessions.publish;
  el.unpublish.disabled = !sessions.publish;
  el.watch.disabled = !room || !!sessions.watch;
  el.unwatch.disabled = !sessions.watch;
  const running = !!current.rec && RUNNING.has(current.rec.status) && current.rec.room === room;
  el.recordStart.disabled = !room || current.pending || running;
  el.recordStop.disabled = current.pending || !running;
}

function validateRoom() {
  const raw = el.room.value.trim();
  const ok = ROOM_RE.test(raw);
  el.room.setAttribute('aria-invalid', String(!ok));
  el.roomHint.dataset.kind = ok ? 'info' : 'error';
  el.roomHint.textContent = ok
    ? 'Letters, digits, “_” and “-”, up to 64 characters.'
    : raw
      ? 'Invalid room name: use only letters, digits, “_” and “-” (1–64 characters).'
      : 'Enter a room name.';
  if (ok) save(LS_ROOM, raw);
  return ok;
}

let pollRunning = false;
let pollAgain = false;
let pollTimer = 0;

async function poll() {
  if (pollRunning) {
    pollAgain = true;
    return;
  }
  pollRunning = true;
  try {
    const rooms = await refreshRooms();
    await Promise.all([
      refreshRecordings(),
      refreshCurrentRecording(rooms).catch((err) => {
        console.warn('recording status', err);
        el.recordInfo.textContent = `Could not load the recording status: ${describe(err)}`;
      }),
    ]);
  } finally {
    pollRunning = false;
    if (pollAgain) {
      pollAgain = false;
      void poll();
    }
  }
}

/** Refresh soon (debounced) after a user action or input change. */
function schedulePoll(ms = 150) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(() => void poll(), ms);
}

function init() {
  const params = new URLSearchParams(window.location.search);
  const initialRoom = params.get('room') ?? load(LS_ROOM);
  if (initialRoom && ROOM_RE.test(initialRoom)) el.room.value = initialRoom;
  el.token.value = load(LS_TOKEN);
  el.recordingsAll.checked = load(LS_ALL) === '1';

  el.room.addEventListener('input', () => {
    validateRoom();
    current.rec = null;
    current.room = roomValue();
    renderRecording();
    if (roomsSnapshot) renderRooms(roomsSnapshot);
    schedulePoll(300);
  });
  el.token.addEventListener('input', () => {
    save(LS_TOKEN, token());
    schedulePoll(400);
  });
  el.recordingsAll.addEventListener('change', () => {
    save(LS_ALL, el.recordingsAll.checked ? '1' : '');
    el.recordings.tBodies[0].replaceChildren();
    note(el.recordingsNote, 'Loading…');
    schedulePoll(0);
  });

  el.publish.addEventListener('click', () => void startPublish());
  el.unpublish.addEventListener('click', () => void stopPublish());
  el.watch.addEventListener('click', () => void startWatch());
  el.unwatch.addEventListener('click', () => void stopWatch());
  el.recordStart.addEventListener('click', () => void startRecording());
  el.recordStop.addEventListener('click', () => void stopRecording());
  el.roomsRefresh.addEventListener('click', () => schedulePoll(0));
  el.recordingsRefresh.addEventListener('click', () => schedulePoll(0));
  el.statusDismiss.addEventListener('click', () => say(''));
  el.playerClose.addEventListener('click', () => closePlayer());

  el.rooms.addEventListener('click', (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-room]') : null;
    if (!btn || el.room.readOnly) return;
    el.room.value = btn.getAttribute('data-room') ?? '';
    el.room.dispatchEvent(new Event('input'));
    el.room.focus();
  });
  el.recordings.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    const del = target?.closest('button[data-action="delete"]');
    if (del instanceof HTMLButtonElement) {
      void deleteRecording(del.dataset.id ?? '', del);
      return;
    }
    const play = target?.closest('button[data-play]');
    if (play instanceof HTMLButtonElement) {
      void playOutput(play.dataset.id ?? '', play.dataset.play ?? '');
      return;
    }
    const link = target?.closest('a[data-output]');
    if (link instanceof HTMLAnchorElement && token()) {
      ev.preventDefault();
      void downloadWithToken(link);
    }
  });

  validateRoom();
  renderRecording();
  void poll();
  setInterval(() => {
    if (!document.hidden) void poll();
  }, POLL_MS);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) schedulePoll(0);
  });
}

init();
