// One recording: playback (MP4 or HLS, sprite scrub preview), every output with its progress,
// size and download link, the participants and their tracks, the transition timeline, and
// delete with confirmation.
import { api, ApiError, supportsPause, type Output, type Recording } from '../api.js';
import { byId, describeError, h, say } from '../dom.js';
import { fmtBytes, fmtDuration, fmtTime } from '../format.js';
import { outputHref, outputLabel } from '../outputs.js';
import { RecordingPlayer, type Source } from '../player.js';
import { go, type View } from '../route.js';
import { settled } from './recordings.js';

const REFRESH_MS = 2000;

/** Resolves true when the person confirms in the page's <dialog>. */
function confirmDelete(text: string): Promise<boolean> {
  const dialog = byId<HTMLDialogElement>('confirm');
  byId('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    byId('confirm-cancel').focus();
  });
}

export const recordingView: View = (root, route) => {
  const id = route.arg ?? '';
  const title = h('h1', { text: 'Recording' });
  const summary = h('p', { class: 'meta', id: 'rec-summary' });
  const player = new RecordingPlayer();
  const sources = h('div', { class: 'row', role: 'group', 'aria-label': 'Play as' });
  const stage = h('section', { class: 'stage', 'aria-label': 'Playback' }, player.root, sources);
  const outputsBody = h('tbody', { id: 'outputs' });
  const outputs = h(
    'table',
    {},
    h('caption', { text: 'Outputs' }),
    h('thead', {}, h('tr', {}, ...['Output', 'Status', 'Size', 'Download'].map((t) => h('th', { scope: 'col', text: t })))),
    outputsBody,
  );
  const participants = h('ul', { id: 'participants' });
  const timeline = h('ol', { id: 'timeline', class: 'timeline' });
  const del = h('button', { type: 'button', id: 'delete', class: 'danger', text: 'Delete recording' });
  /** Stop / pause / resume while the recording is live. */
  const controls = h('div', { class: 'row', id: 'rec-controls', role: 'group', 'aria-label': 'Recording controls' });
  root.append(
    h('p', {}, h('a', { href: '#/recordings', text: '← All recordings' })),
    title,
    summary,
    controls,
    h(
      'div',
      { class: 'split' },
      stage,
      h(
        'div',
        {},
        h('section', { class: 'panel', 'aria-labelledby': 'h-part' }, h('h2', { id: 'h-part', text: 'Participants' }), participants),
        h('section', { class: 'panel', 'aria-labelledby': 'h-time' }, h('h2', { id: 'h-time', text: 'Timeline' }), timeline),
      ),
    ),
    h('div', { class: 'table-wrap' }, outputs),
    h('div', { class: 'row' }, del),
  );

  let rec: Recording | null = null;
  let outs: Output[] = [];
  let stopped = false;
  let spriteLoaded = false;
  let canPause = false;
  void supportsPause().then((yes) => {
    canPause = yes;
    render();
  });

  const act = async (label: string, fn: () => Promise<Recording>): Promise<void> => {
    try {
      rec = await fn();
      say(label, 'ok');
      render();
    } catch (err) {
      say(`${label} failed: ${describeError(err)}`, 'error');
    }
    void refresh();
  };

  const button = (action: string, text: string, label: string, fn: () => Promise<Recording>): HTMLElement =>
    h('button', { type: 'button', 'data-action': action, text, onclick: () => void act(label, fn) });

  const renderControls = (r: Recording): void => {
    const live = r.status === 'starting' || r.status === 'active' || r.status === 'paused';
    const want = live ? `${r.status}:${canPause}` : '';
    if (controls.dataset['for'] === want) return; // keep focus on a button that stays
    controls.dataset['for'] = want;
    const buttons: HTMLElement[] = [];
    if (canPause && r.status === 'active') buttons.push(button('pause', 'Pause', 'Recording paused', () => api.pauseRecording(r.id)));
    if (canPause && r.status === 'paused') buttons.push(button('resume', 'Resume', 'Recording resumed', () => api.resumeRecording(r.id)));
    if (live) buttons.push(button('stop', 'Stop recording', 'Recording stopped', () => api.stopRecording(r.id)));
    controls.replaceChildren(...buttons);
    controls.hidden = buttons.length === 0;
  };

  /** Loads an output into the player; a click on its button also starts playing it. */
  const startSource = (source: Source, autoplay = false): void => {
    const o = outs.find((x) => x.name === source && x.status === 'ready');
    if (!o) return;
    void player
      .play(source, o)
      .then(() => (autoplay ? player.video.play() : undefined))
      .catch((err: unknown) => {
        if (!(err instanceof DOMException && err.name === 'AbortError')) say(`Playback: ${describeError(err)}`, 'error');
      });
    for (const b of sources.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset['source'] === source));
  };

  const render = (): void => {
    if (!rec) return;
    title.textContent = `Recording of “${rec.room}”`;
    summary.replaceChildren(
      h('span', { class: 'badge', id: 'rec-status', 'data-state': rec.status, text: rec.status }),
      ` ${fmtDuration(rec.durationMs)} · started ${fmtTime(rec.startedAt)} · id ${rec.id}`,
      rec.error ? h('span', { class: 'error', text: ` · ${rec.error.code}: ${rec.error.message}` }) : '',
    );
    outputsBody.replaceChildren(
      ...outs.map((o) => {
        const pct = Math.round((o.progress ?? 0) * 100);
        return h(
          'tr',
          { 'data-output': o.name, 'data-status': o.status },
          h('th', { scope: 'row', text: outputLabel(o) }),
          h(
            'td',
            {},
            o.status === 'processing' || o.status === 'pending'
              ? h('progress', { max: '100', value: String(pct), 'aria-label': `${o.name} ${pct}%` })
              : h('span', { class: 'badge', 'data-state': o.status, text: o.error ? `${o.status}: ${o.error.code}` : o.status }),
          ),
          h('td', { text: fmtBytes(o.size) }),
          h(
            'td',
            {},
            o.status === 'ready'
              ? h('a', {
                  href: outputHref(o),
                  download: '',
                  'data-output': o.name,
                  text: 'Download',
                  'aria-label': `Download ${outputLabel(o)}`,
                })
              : '—',
          ),
        );
      }),
    );
    renderControls(rec);
    if (rec.participants && rec.participants.length > 0) {
      // Everyone recorded, where they join and leave the recording's timeline, and their own output.
      participants.replaceChildren(
        ...rec.participants.map((p, i) =>
          h(
            'li',
            { 'data-participant': p.id, 'data-output': p.output },
            h('strong', { text: `Participant ${i + 1}` }),
            ` — ${p.tracks.map((t) => `${t.kind} (${t.codec})`).join(', ')} · from +${fmtDuration(p.startOffsetMs)}`,
            p.endOffsetMs !== null ? ` to +${fmtDuration(p.endOffsetMs)}` : '',
            ` · output “${p.output}”`,
          ),
        ),
      );
    } else {
      const byParticipant = new Map<string, string[]>();
      for (const t of rec.tracks) byParticipant.set(t.participant, [...(byParticipant.get(t.participant) ?? []), `${t.kind} (${t.codec})`]);
      participants.replaceChildren(
        ...(byParticipant.size > 0
          ? [...byParticipant].map(([p, tracks]) => h('li', {}, h('strong', { text: p }), ` — ${tracks.join(', ')}`))
          : [h('li', { text: 'No tracks recorded yet.' })]),
      );
    }
    const t0 = rec.transitions?.[0] ? new Date(rec.transitions[0].at).getTime() : 0;
    timeline.replaceChildren(
      ...(rec.transitions ?? []).map((t) =>
        h(
          'li',
          { 'data-status': t.status },
          h('span', { class: 'badge', 'data-state': t.status, text: t.status }),
          ` ${fmtTime(t.at)} (+${fmtDuration(new Date(t.at).getTime() - t0)})`,
        ),
      ),
      ...(rec.pauses ?? []).map((p) =>
        h(
          'li',
          { 'data-pause': p.at },
          h('span', { class: 'badge', 'data-state': 'paused', text: 'paused span' }),
          ` ${fmtTime(p.at)} → ${p.resumedAt ? fmtTime(p.resumedAt) : 'not resumed'}`,
          p.resumedAt ? ` (${fmtDuration(Date.parse(p.resumedAt) - Date.parse(p.at))} left out)` : ' (left out)',
        ),
      ),
    );
    const playable = (['mp4', 'hls'] as const).filter((s) => outs.some((o) => o.name === s && o.status === 'ready'));
    if (sources.dataset['have'] !== playable.join(',')) {
      sources.dataset['have'] = playable.join(',');
      sources.replaceChildren(
        ...playable.map((s) =>
          h('button', {
            type: 'button',
            'data-source': s,
            'aria-pressed': 'false',
            text: s === 'mp4' ? 'Play MP4' : 'Play HLS',
            onclick: () => startSource(s, true),
          }),
        ),
        playable.length === 0
          ? h('p', {
              class: 'hint',
              text: settled(rec) ? 'No playable output (MP4 or HLS) was made.' : 'Playback starts when the MP4 or HLS output is ready.',
            })
          : '',
      );
      if (!player.source && playable[0]) startSource(playable[0]);
    }
    const sprite = outs.find((o) => o.name === 'sprite' && o.status === 'ready');
    if (sprite && !spriteLoaded) {
      spriteLoaded = true;
      void player.loadSprite(sprite).catch(() => {});
    }
  };

  const refresh = async (): Promise<void> => {
    try {
      const [r, o] = await Promise.all([api.recording(id), api.outputs(id).catch(() => ({ items: [] as Output[] }))]);
      if (stopped) return;
      rec = r;
      outs = o.items.length > 0 ? o.items : r.outputs;
      render();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        summary.textContent = 'This recording does not exist (deleted?).';
        clearInterval(timer);
      } else summary.textContent = `Cannot load the recording: ${describeError(err)}`;
    }
  };

  del.addEventListener('click', () => {
    void (async () => {
      if (!(await confirmDelete(`Delete the recording of “${rec?.room ?? id}” and all its files? This cannot be undone.`))) return;
      try {
        await api.deleteRecording(id);
        say('Recording deleted.', 'ok');
        go('recordings');
      } catch (err) {
        say(`Delete failed: ${describeError(err)}`, 'error');
      }
    })();
  });

  const timer = setInterval(() => {
    if (rec && settled(rec)) return;
    void refresh();
  }, REFRESH_MS);
  void refresh();

  return () => {
    stopped = true;
    clearInterval(timer);
    player.destroy();
  };
};
