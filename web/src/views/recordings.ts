// Recordings library: filter by room and status, cursor pagination ("Load more"), poster
// thumbnails, live status and per-output progress, refreshed while anything is still changing.
import { api, type Output, type Recording } from '../api.js';
import { describeError, field, h, say } from '../dom.js';
import { fmtDuration, fmtTime } from '../format.js';
import { outputHref } from '../outputs.js';
import { rememberParam, type View } from '../route.js';

const PAGE = 12;
const MAX_PAGE = 100;
const REFRESH_MS = 2000;
const STATUSES = ['', 'starting', 'active', 'paused', 'stopping', 'processing', 'ready', 'failed'];

/** Done changing: the recording is final and no output is still being made. */
export const settled = (r: Recording): boolean =>
  (r.status === 'ready' || r.status === 'failed') && r.outputs.every((o) => o.status === 'ready' || o.status === 'failed');

export function progressList(outputs: Output[]): HTMLUListElement {
  return h(
    'ul',
    { class: 'progress-list', 'aria-label': 'Outputs' },
    ...outputs.map((o) => {
      const pct = o.status === 'ready' ? 100 : Math.round((o.progress ?? 0) * 100);
      return h(
        'li',
        { 'data-output': o.name, 'data-status': o.status },
        h('span', { class: 'out-name', text: o.name }),
        o.status === 'processing' || o.status === 'pending'
          ? h('progress', { max: '100', value: String(pct), 'aria-label': `${o.name} ${pct}%` })
          : h('span', { class: 'badge', 'data-state': o.status, text: o.status }),
      );
    }),
  );
}

export const recordingsView: View = (root, route) => {
  // ?limit= changes the page size (the API allows up to 100).
  const pageSize = Math.min(MAX_PAGE, Math.max(1, Number(route.params.get('limit')) || PAGE));
  const room = h('input', { id: 'filter-room', value: route.params.get('room') ?? '', autocomplete: 'off', placeholder: 'any room' });
  const status = h(
    'select',
    { id: 'filter-status' },
    ...STATUSES.map((s) => h('option', { value: s, text: s || 'any status', selected: s === (route.params.get('status') ?? '') })),
  );
  const list = h('ul', { id: 'recordings', class: 'cards', 'aria-label': 'Recordings' });
  const note = h('p', { class: 'empty', id: 'recordings-note', text: 'Loading…' });
  const more = h('button', { type: 'button', id: 'load-more', text: 'Load more', hidden: true });
  const form = h(
    'form',
    { class: 'controls filters', role: 'search', 'aria-label': 'Filter recordings' },
    field('Room', room),
    field('Status', status),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: 'Apply filters' })),
  );
  root.append(h('h1', { text: 'Recordings' }), form, list, note, more);

  let cursor: string | null = null;
  let items: Recording[] = [];
  let stopped = false;
  const cards = new Map<string, HTMLLIElement>();
  const posters = new Map<string, string>();

  const card = (r: Recording): HTMLLIElement => {
    const poster = posters.get(r.id);
    const duration = r.durationMs ?? (r.startedAt && !settled(r) ? Date.now() - new Date(r.startedAt).getTime() : null);
    return h(
      'li',
      { class: 'card', 'data-id': r.id, 'data-status': r.status },
      // The title below is the card's one link; the thumbnail is decoration.
      h(
        'div',
        { class: 'thumb' },
        poster
          ? h('img', { src: poster, alt: '', width: 320, height: 180, loading: 'lazy' })
          : h('span', { class: 'no-poster', text: r.status === 'ready' ? 'no poster' : r.status }),
      ),
      h(
        'div',
        { class: 'card-body' },
        h(
          'h2',
          {},
          // The accessible name starts with the visible text and tells same-room cards apart.
          h('a', {
            href: `#/recordings/${encodeURIComponent(r.id)}`,
            text: r.room,
            'aria-label': `${r.room}, recording of ${fmtTime(r.startedAt)}`,
          }),
        ),
        h(
          'p',
          { class: 'meta' },
          h('span', { class: 'badge', 'data-state': r.status, text: r.status }),
          ` ${fmtDuration(duration)} · ${fmtTime(r.startedAt)}`,
        ),
        r.error ? h('p', { class: 'error', text: `${r.error.code}: ${r.error.message}` }) : null,
        progressList(r.outputs),
      ),
    );
  };

  /** Poster thumbnails: the signed URL comes from …/outputs (an <img> cannot send the token). */
  const loadPoster = async (r: Recording): Promise<void> => {
    if (posters.has(r.id) || !r.outputs.some((o) => o.name === 'poster' && o.status === 'ready')) return;
    const { items: outs } = await api.outputs(r.id);
    const p = outs.find((o) => o.name === 'poster');
    if (p) posters.set(r.id, outputHref(p));
  };

  const render = (r: Recording): void => {
    const next = card(r);
    const old = cards.get(r.id);
    if (old) old.replaceWith(next);
    else list.append(next);
    cards.set(r.id, next);
  };

  const load = async (reset: boolean): Promise<void> => {
    try {
      if (reset) {
        cursor = null;
        items = [];
        cards.clear();
        list.replaceChildren();
      }
      const page = await api.recordings({ room: room.value.trim(), status: status.value, limit: pageSize, ...(cursor ? { cursor } : {}) });
      if (stopped) return;
      await Promise.all(page.items.map((r) => loadPoster(r).catch(() => {})));
      items.push(...page.items);
      page.items.forEach(render);
      cursor = page.nextCursor;
      more.hidden = !cursor;
      note.hidden = items.length > 0;
      note.textContent = 'No recordings match.';
    } catch (err) {
      note.hidden = false;
      note.textContent = `Cannot list recordings: ${describeError(err)}`;
    }
  };

  // Live status: recordings still changing are fetched again until they settle.
  const timer = setInterval(() => {
    for (const r of items.filter((x) => !settled(x))) {
      void api
        .recording(r.id)
        .then(async (fresh) => {
          await loadPoster(fresh).catch(() => {});
          if (stopped) return;
          items = items.map((x) => (x.id === fresh.id ? fresh : x));
          render(fresh);
        })
        .catch(() => {});
    }
  }, REFRESH_MS);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    rememberParam('room', room.value.trim());
    rememberParam('status', status.value);
    void load(true);
  });
  more.addEventListener('click', () => {
    void load(false).then(() => say(`${items.length} recordings shown.`));
  });
  void load(true);

  return () => {
    stopped = true;
    clearInterval(timer);
  };
};
