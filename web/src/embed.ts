// <live-webrtc-player room="demo"> — a web component other sites drop in to play a room over
// WHEP. Served as its own self-contained bundle at /embed/player.js. Attributes: room (required),
// server (origin of the live-webrtc API; default: where this script was loaded from), token
// (a room token with the subscribe grant, when the server requires one), muted, controls.
// Events (bubbling, composed): "statechange" with detail {state, message}; state is one of
// connecting | waiting | live | reconnecting | failed | idle. The current state is also
// reflected in the element's "state" attribute for styling.
import { WebRtcLink, type LinkStateDetail } from './link.js';

const SCRIPT_ORIGIN = new URL(import.meta.url).origin;

export class LiveWebrtcPlayer extends HTMLElement {
  static observedAttributes = ['room', 'server', 'token', 'muted', 'controls'];
  #video: HTMLVideoElement;
  #label: HTMLElement;
  #link: WebRtcLink | null = null;
  #connected = false;

  constructor() {
    super();
    const shadow = this.attachShadow({ mode: 'open' });
    this.#video = document.createElement('video');
    this.#video.playsInline = true;
    this.#video.autoplay = true;
    this.#label = document.createElement('div');
    this.#label.setAttribute('part', 'status');
    this.#label.setAttribute('role', 'status');
    // Styles through the CSSOM: no <style> element, so a host page's strict CSP needs no exception.
    Object.assign(this.style, { display: this.style.display || 'block', position: 'relative' });
    Object.assign(this.#video.style, { width: '100%', height: '100%', background: '#000', display: 'block', objectFit: 'contain' });
    Object.assign(this.#label.style, {
      position: 'absolute',
      left: '0.5em',
      bottom: '0.5em',
      padding: '0.2em 0.6em',
      borderRadius: '0.3em',
      background: 'rgba(0,0,0,0.7)',
      color: '#fff',
      font: '14px system-ui, sans-serif',
    });
    this.#video.setAttribute('part', 'video');
    shadow.append(this.#video, this.#label);
  }

  /** The room's current connection state (also the "state" attribute). */
  get state(): string {
    return this.getAttribute('state') ?? 'idle';
  }

  /** The underlying video element (for volume, fullscreen, picture-in-picture). */
  get video(): HTMLVideoElement {
    return this.#video;
  }

  connectedCallback(): void {
    this.#connected = true;
    window.addEventListener('pagehide', this.#leave);
    this.#restart();
  }

  disconnectedCallback(): void {
    this.#connected = false;
    window.removeEventListener('pagehide', this.#leave);
    this.#leave();
  }

  /** Ends the session on the server too (leaving the page or removing the element). */
  #leave = (): void => {
    this.#link?.close();
    this.#link = null;
  };

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (name === 'muted') this.#video.muted = value !== null;
    else if (name === 'controls') this.#video.controls = value !== null;
    else if (old !== value && this.#connected) this.#restart();
  }

  #restart(): void {
    this.#link?.close();
    this.#link = null;
    const room = this.getAttribute('room');
    if (!room) return this.#emit({ state: 'failed', message: 'the room attribute is missing' });
    this.#video.muted = this.hasAttribute('muted');
    this.#video.controls = this.hasAttribute('controls');
    this.#video.setAttribute('aria-label', this.getAttribute('aria-label') ?? `Live video of room ${room}`);
    const server = (this.getAttribute('server') ?? SCRIPT_ORIGIN).replace(/\/+$/, '');
    const stream = new MediaStream();
    this.#video.srcObject = stream;
    const link = new WebRtcLink({
      kind: 'play',
      endpoint: `${server}/api/whep/play/${encodeURIComponent(room)}`,
      token: () => this.getAttribute('token') ?? '',
      setup: (pc) => {
        for (const t of stream.getTracks()) stream.removeTrack(t);
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addTransceiver('video', { direction: 'recvonly' });
        pc.addEventListener('track', (e) => {
          stream.addTrack(e.track);
          this.#video.play().catch((err: unknown) => {
            if (!(err instanceof DOMException && err.name === 'NotAllowedError')) return;
            // Autoplay with sound blocked: play muted and show the controls to unmute.
            this.#video.muted = true;
            this.#video.controls = true;
            void this.#video.play().catch(() => {});
          });
        });
      },
    });
    link.addEventListener('state', (e) => this.#emit((e as CustomEvent<LinkStateDetail>).detail));
    this.#link = link;
    link.start();
  }

  #emit(detail: LinkStateDetail): void {
    this.setAttribute('state', detail.state);
    this.#label.textContent = detail.state === 'live' ? '' : detail.message;
    this.#label.hidden = detail.state === 'live';
    this.dispatchEvent(new CustomEvent('statechange', { detail, bubbles: true, composed: true }));
  }
}

if (!customElements.get('live-webrtc-player')) customElements.define('live-webrtc-player', LiveWebrtcPlayer);
