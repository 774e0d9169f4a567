// Small DOM helpers: building elements without innerHTML (nothing from the server is ever parsed
// as markup) and the page's one status line.

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** h('button', { class: 'x', onclick: fn, 'aria-label': '…' }, 'text', child) */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') node.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.className = String(v);
    else if (k === 'value' && 'value' in node) (node as HTMLInputElement).value = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node as T;
}

export type StatusKind = 'info' | 'ok' | 'warn' | 'error';

/** The status line: in the page flow under the header (it never covers content), announced politely. */
export function say(message: string, kind: StatusKind = 'info'): void {
  const node = document.getElementById('status');
  if (!node) return;
  node.textContent = message;
  node.dataset['kind'] = kind;
}

export function describeError(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message) || String(err);
  return String(err);
}

/** A labelled form field: <div class="field"><label for=id>…</label>{control}</div>. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLDivElement {
  const id = control.id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id, text: label }),
    control,
    hint ? h('p', { class: 'hint', id: hintId, text: hint }) : null,
  );
}

/** A state badge: text for people, data-state for styling and tests. */
export function setBadge(node: HTMLElement, state: string, text: string): void {
  node.dataset['state'] = state;
  node.textContent = text;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
