// One WHIP (publish) or WHEP (play) connection that looks after itself: it waits for a publisher
// (WHEP 404 no_publisher), restarts ICE when the network changes (PATCH with new credentials,
// RFC 9725 §4.4.1), and when that fails makes a new session (republish / replay). Small class
// with typed state events and an idempotent close().
import { ApiError, request } from './api.js';
import { applyRestartAnswer, iceGathered, parseIceServers, restartFragment } from './ice.js';
import { sleep } from './dom.js';

export type LinkState = 'idle' | 'connecting' | 'waiting' | 'live' | 'reconnecting' | 'failed';

export interface LinkOptions {
  kind: 'publish' | 'play';
  /** The WHIP/WHEP endpoint, e.g. /api/whep/play/demo or https://host/api/whep/play/demo */
  endpoint: string;
  token?: () => string;
  /** Adds transceivers and track handlers to each new peer connection. */
  setup: (pc: RTCPeerConnection) => void;
  /**
   * Play only: a connected session that receives nothing (no video frame, no audio packet) this
   * long is replaced by a new one. The SFU attaches a publisher who returns to existing viewer
   * sessions, but this mediasoup version's late consumers are not always demuxed by the browser;
   * a fresh session (or "waiting" when nobody publishes) always is. Default 5000; 0 = never.
   */
  stallMs?: number;
}

export interface LinkStateDetail {
  state: LinkState;
  message: string;
}

const WAIT_FOR_PUBLISHER_MS = 2000;
const CONNECT_TIMEOUT_MS = 15_000;
/** A connection that stays "disconnected" this long gets an ICE restart (Chrome says "failed" only after ~30 s). */
const DISCONNECTED_GRACE_MS = 2500;

export class WebRtcLink extends EventTarget {
  state: LinkState = 'idle';
  pc: RTCPeerConnection | null = null;
  /** The session resource (Location) of the current session. */
  location: string | null = null;
  /** How many times a new session replaced a lost one, and how many ICE restarts succeeded. */
  reconnects = 0;
  iceRestarts = 0;
  #etag: string | null = null;
  #answer = '';
  #iceServers: RTCIceServer[] = [];
  #abort = new AbortController();
  #closed = false;
  /** Ends the current session's supervision (renew()). */
  #endSession: (() => void) | null = null;

  constructor(readonly o: LinkOptions) {
    super();
  }

  start(): void {
    void this.#run();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #set(state: LinkState, message: string): void {
    this.state = state;
    this.dispatchEvent(new CustomEvent<LinkStateDetail>('state', { detail: { state, message } }));
  }

  #token(): string {
    return this.o.token?.() ?? '';
  }

  async #run(): Promise<void> {
    let backoff = 1000;
    while (!this.#closed) {
      try {
        if (this.state !== 'waiting' && this.state !== 'reconnecting') this.#set('connecting', 'connecting…');
        await this.#connect();
        if (this.#closed) return;
        backoff = 1000;
        this.#set('live', 'live');
        await this.#supervise();
        if (this.#closed) return;
        this.reconnects++;
        this.#set('reconnecting', 'reconnecting…');
      } catch (err) {
        if (this.#closed) return;
        this.#dropSession();
        if (err instanceof ApiError && err.status === 404 && err.code === 'no_publisher') {
          this.#set('waiting', 'waiting for a publisher…');
          await sleep(WAIT_FOR_PUBLISHER_MS, this.#abort.signal);
          continue;
        }
        // The server or the network is away (or the media path failed): try again, slower each time.
        const transient = !(err instanceof ApiError) || err.status === 0 || err.status >= 500 || err.status === 429;
        if (!transient) {
          this.#set('failed', err.message);
          return;
        }
        this.#set('reconnecting', `${err instanceof Error ? err.message : String(err)}: retrying…`);
        await sleep(backoff, this.#abort.signal);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  /** One session: offer, POST, answer, until connected (throws otherwise). */
  async #connect(): Promise<void> {
    const pc = new RTCPeerConnection({ iceServers: this.#iceServers });
    this.pc = pc;
    this.o.setup(pc);
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    if (this.#closed) return;
    const res = await request('POST', this.o.endpoint, {
      body: pc.localDescription?.sdp ?? '',
      headers: { 'Content-Type': 'application/sdp', Accept: 'application/sdp' },
      token: this.#token(),
      signal: this.#abort.signal,
    });
    const loc = res.headers.get('Location');
    this.location = loc ? new URL(loc, res.url || this.o.endpoint).href : null;
    this.#etag = res.headers.get('ETag');
    const servers = parseIceServers(res.headers.get('Link'));
    if (servers.length > 0) this.#iceServers = servers;
    this.#answer = await res.text();
    if (this.#closed) return this.#dropSession();
    await pc.setRemoteDescription({ type: 'answer', sdp: this.#answer });
    const outcome = await this.#outcome(pc, CONNECT_TIMEOUT_MS);
    if (outcome !== 'connected' && !this.#closed)
      throw new Error(outcome === 'timeout' ? 'no media connection (ICE/DTLS timeout)' : 'the media connection failed');
  }

  #outcome(pc: RTCPeerConnection, ms: number): Promise<'connected' | 'failed' | 'timeout'> {
    return new Promise((resolve) => {
      const finish = (o: 'connected' | 'failed' | 'timeout'): void => {
        clearTimeout(timer);
        pc.removeEventListener('connectionstatechange', check);
        resolve(o);
      };
      const check = (): void => {
        if (pc.connectionState === 'connected') finish('connected');
        else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') finish('failed');
      };
      const timer = setTimeout(() => finish('timeout'), ms);
      pc.addEventListener('connectionstatechange', check);
      this.#abort.signal.addEventListener('abort', () => finish('failed'));
      check();
    });
  }

  /** Resolves when the connection is lost for good (an ICE restart did not bring it back). */
  async #supervise(): Promise<void> {
    const pc = this.pc;
    if (!pc) return;
    let renewed = false;
    const stall = this.o.kind === 'play' && (this.o.stallMs ?? 5000) > 0 ? this.#watchStall(pc, this.o.stallMs ?? 5000) : undefined;
    try {
      for (;;) {
        await new Promise<void>((resolve) => {
          const check = (): void => {
            if (
              renewed ||
              pc.connectionState === 'failed' ||
              pc.connectionState === 'disconnected' ||
              pc.connectionState === 'closed' ||
              this.#closed
            ) {
              pc.removeEventListener('connectionstatechange', check);
              this.#endSession = null;
              resolve();
            }
          };
          this.#endSession = () => {
            renewed = true;
            check();
          };
          pc.addEventListener('connectionstatechange', check);
          this.#abort.signal.addEventListener('abort', check, { once: true });
          check();
        });
        if (this.#closed) return;
        if (renewed) {
          this.#dropSession();
          return;
        }
        if (pc.connectionState === 'disconnected') {
          this.#set('reconnecting', 'network change: reconnecting…');
          if ((await this.#outcome(pc, DISCONNECTED_GRACE_MS)) === 'connected') {
            this.#set('live', 'live');
            continue;
          }
        }
        if (this.#closed || pc.connectionState === 'closed') return;
        if (await this.#restartIce(pc)) {
          this.iceRestarts++;
          this.#set('live', 'live');
          continue;
        }
        this.#dropSession();
        return;
      }
    } finally {
      if (stall) clearInterval(stall);
    }
  }

  /** Renews the session when nothing has been received for `ms` (see LinkOptions.stallMs). */
  #watchStall(pc: RTCPeerConnection, ms: number): ReturnType<typeof setInterval> {
    let last = -1;
    let since = Date.now();
    return setInterval(() => {
      void pc
        .getStats()
        .then((report) => {
          let progress = 0;
          report.forEach((s: { type: string; framesDecoded?: number; packetsReceived?: number }) => {
            if (s.type === 'inbound-rtp') progress += (s.framesDecoded ?? 0) + (s.packetsReceived ?? 0);
          });
          if (progress !== last) {
            last = progress;
            since = Date.now();
          } else if (Date.now() - since > ms && pc.connectionState === 'connected') {
            since = Date.now();
            this.renew();
          }
        })
        .catch(() => {});
    }, 1000);
  }

  /** Replaces the current session with a new one (e.g. to receive publishers that joined since). */
  renew(): void {
    this.#endSession?.();
  }

  /** ICE restart over PATCH; false when the server no longer has the session or it does not reconnect. */
  async #restartIce(pc: RTCPeerConnection): Promise<boolean> {
    if (!this.location) return false;
    try {
      this.#set('reconnecting', 'restarting ICE…');
      const offer = await pc.createOffer({ iceRestart: true });
      await pc.setLocalDescription(offer);
      await iceGathered(pc, 1500);
      const res = await request('PATCH', this.location, {
        body: restartFragment(pc.localDescription?.sdp ?? ''),
        headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', ...(this.#etag ? { 'If-Match': this.#etag } : {}) },
        token: this.#token(),
        signal: this.#abort.signal,
      });
      this.#etag = res.headers.get('ETag') ?? this.#etag;
      this.#answer = applyRestartAnswer(this.#answer, await res.text());
      await pc.setRemoteDescription({ type: 'answer', sdp: this.#answer });
      return (await this.#outcome(pc, 8000)) === 'connected';
    } catch {
      return false;
    }
  }

  /** Ends the current session (peer connection and, best effort, the server's resource). */
  #dropSession(): void {
    const pc = this.pc;
    const location = this.location;
    this.pc = null;
    this.location = null;
    pc?.close();
    if (location) void request('DELETE', location, { token: this.#token(), keepalive: true }).catch(() => {});
  }

  /** Idempotent: stops reconnecting, closes the peer connection and deletes the session. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#dropSession();
    this.#set('idle', 'stopped');
  }
}
