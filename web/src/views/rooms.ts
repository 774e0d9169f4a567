// Rooms: every live room across instances with its publishers, viewers and recording (state and
// running duration), polled every two seconds, with start/stop (and pause/resume when the server
// implements them) per room.
import { api, supportsPause, type Recording, type Room } from '../api.js';
import { describeError, h, say } from '../dom.js';
import { fmtDuration } from '../format.js';
import type { View } from '../route.js';

const POLL_MS = 2000;

/** A live recording's length so far: since it started, paused spans left out (as in its files). */
export function recordedSoFarMs(rec: Recording, now = Date.now()): number | null {
  if (!rec.startedAt) return null;
  const paused = (rec.pauses ?? []).reduce((n, p) => n + ((p.resumedAt ? Date.parse(p.resumedAt) : now) - Date.parse(p.at)), 0);
  return Math.max(0, now - Date.parse(rec.startedAt) - paused);
}

export const roomsView: View = (root) => {
  const body = h('tbody', { id: 'rooms-body' });
  const note = h('p', { id: 'rooms-note', class: 'empty', text: 'Loading…' });
  const updated = h('p', { class: 'hint', id: 'rooms-updated' });
  const table = h(
    'table',
    { id: 'rooms' },
    h('caption', { text: 'Live rooms (updated every 2 s)' }),
    h(
      'thead',
      {},
      h('tr', {}, ...['Room', 'Publishers', 'Viewers', 'Recording', 'Duration', 'Actions'].map((t) => h('th', { scope: 'col', text: t }))),
    ),
    body,
  );
  root.append(h('h1', { text: 'Rooms' }), h('div', { class: 'table-wrap' }, table), note, updated);

  let canPause = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const act = async (label: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
      say(label, 'ok');
    } catch (err) {
      say(`${label} failed: ${describeError(err)}`, 'error');
    }
    schedule(100);
  };

  const row = (room: Room, rec: Recording | null): HTMLTableRowElement => {
    const running = rec && (rec.status === 'starting' || rec.status === 'active' || rec.status === 'paused');
    const actions = h('div', { class: 'row' });
    if (!running) {
      actions.append(
        h('button', {
          type: 'button',
          'data-action': 'record',
          'aria-label': `Start recording room ${room.name}`,
          text: 'Start recording',
          onclick: () => void act(`Recording of “${room.name}” started`, () => api.startRecording(room.name)),
        }),
      );
    } else {
      actions.append(
        h('button', {
          type: 'button',
          'data-action': 'stop',
          'aria-label': `Stop recording room ${room.name}`,
          text: 'Stop recording',
          onclick: () => void act(`Recording of “${room.name}” stopped`, () => api.stopRecording(rec.id)),
        }),
      );
      // Pause only what records, resume only what is paused: the server answers 409 otherwise.
      if (canPause && rec.status === 'active') {
        actions.append(
          h('button', {
            type: 'button',
            'data-action': 'pause',
            'aria-label': `Pause recording room ${room.name}`,
            text: 'Pause',
            onclick: () => void act(`Recording of “${room.name}” paused`, () => api.pauseRecording(rec.id)),
          }),
        );
      }
      if (canPause && rec.status === 'paused') {
        actions.append(
          h('button', {
            type: 'button',
            'data-action': 'resume',
            'aria-label': `Resume recording room ${room.name}`,
            text: 'Resume',
            onclick: () => void act(`Recording of “${room.name}” resumed`, () => api.resumeRecording(rec.id)),
          }),
        );
      }
    }
    actions.append(
      h('a', { href: `#/watch?room=${encodeURIComponent(room.name)}&autoplay=1`, text: 'Watch', 'aria-label': `Watch room ${room.name}` }),
    );
    const duration = rec ? (rec.durationMs ?? recordedSoFarMs(rec)) : null;
    return h(
      'tr',
      { 'data-room': room.name, 'data-recording': rec?.status ?? 'none' },
      h('th', { scope: 'row', text: room.name }),
      h('td', { 'data-col': 'publishers', text: String(room.publishers) }),
      h('td', { 'data-col': 'viewers', text: String(room.subscribers) }),
      h('td', {}, rec ? h('span', { class: 'badge', 'data-state': rec.status, text: rec.status }) : '—'),
      h('td', { 'data-col': 'duration', text: rec ? fmtDuration(duration) : '—' }),
      h('td', {}, actions),
    );
  };

  const refresh = async (): Promise<void> => {
    try {
      const { rooms } = await api.rooms();
      const recs = await Promise.all(
        rooms.map((r) => (r.recordingId ? api.recording(r.recordingId).catch(() => null) : Promise.resolve(null))),
      );
      if (stopped) return;
      body.replaceChildren(...rooms.map((r, i) => row(r, recs[i] ?? null)));
      note.hidden = rooms.length > 0;
      note.textContent = 'No live rooms. Rooms appear here when somebody publishes.';
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      note.hidden = false;
      note.textContent = `Cannot list rooms: ${describeError(err)}`;
    }
  };

  function schedule(ms = POLL_MS): void {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => void refresh().finally(() => schedule()), ms);
  }

  void supportsPause().then((yes) => {
    canPause = yes;
    schedule(0);
  });

  return () => {
    stopped = true;
    clearTimeout(timer);
  };
};
