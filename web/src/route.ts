// Hash routes (#/publish?room=demo, #/recordings/ID): the server serves one HTML file and the
// page keeps its place on reload, back and forward.

export interface Route {
  view: string;
  arg: string | undefined;
  params: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = hash.split('?');
  const [view, arg] = path.split('/');
  return { view: view || 'publish', arg: arg ? decodeURIComponent(arg) : undefined, params: new URLSearchParams(query) };
}

export function go(path: string): void {
  location.hash = `#/${path}`;
}

/** Updates the query of the current route without navigating (e.g. the room typed in a field). */
export function rememberParam(key: string, value: string): void {
  const r = currentRoute();
  if (value) r.params.set(key, value);
  else r.params.delete(key);
  const q = r.params.toString();
  history.replaceState(null, '', `#/${r.view}${r.arg ? `/${encodeURIComponent(r.arg)}` : ''}${q ? `?${q}` : ''}`);
}

/** A mounted view; the returned function tears it down (stops timers, closes sessions). */
export type View = (root: HTMLElement, route: Route) => () => void;
