// Light WHIP publishers and WHEP viewers in this process (libwebrtc via @roamhq/wrtc), for the
// soak and the back-to-baseline test: many of them cost far less than Chromium tabs. A
// publisher sends a small synthetic picture (moving bars, so the encoder has work and keyframes
// mean something) and a tone; a viewer receives both and decodes.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// CommonJS native module: loaded with require (its types describe the browser API).
const wrtc = require('@roamhq/wrtc') as typeof import('@roamhq/wrtc');

export interface Peer {
  pc: RTCPeerConnection;
  /** The session URL (DELETE ends it). */
  location: string;
  /** Ends the session on the server and closes the peer connection. */
  close(): Promise<void>;
}

async function gathered(pc: RTCPeerConnection): Promise<void> {
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    setTimeout(resolve, 2000);
  });
}

/** Non-trickle offer/answer with a WHIP/WHEP endpoint; throws on anything but 201. */
async function negotiate(pc: RTCPeerConnection, url: string, token: string | undefined, mungeOffer = (s: string) => s): Promise<string> {
  const offer = await pc.createOffer();
  await pc.setLocalDescription({ type: 'offer', sdp: mungeOffer(offer.sdp ?? '') });
  await gathered(pc);
  const headers: Record<string, string> = { 'Content-Type': 'application/sdp' };
  if (token) headers['Authorization'] = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: pc.localDescription?.sdp ?? '' });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`${url} answered ${res.status}: ${body.slice(0, 200)}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  return new URL(res.headers.get('location') ?? '', url).href;
}

async function connected(pc: RTCPeerConnection, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pc.connectionState === 'connected') return true;
    if (pc.connectionState === 'failed' || pc.connectionState === 'closed') return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function closer(pc: RTCPeerConnection, location: string, token: string | undefined, stop: () => void): () => Promise<void> {
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    stop();
    const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
    await fetch(location, { method: 'DELETE', headers }).catch(() => undefined);
    pc.close();
  };
}

/**
 * Publishes width×height VP8 at `fps` and a 440 Hz Opus tone. Resolves once ICE + DTLS are
 * connected (rejects after 15 s otherwise).
 */
export async function wrtcPublish(
  url: string,
  opts: { token?: string; width?: number; height?: number; fps?: number } = {},
): Promise<Peer> {
  const { width = 320, height = 180, fps = 15 } = opts;
  const pc = new wrtc.RTCPeerConnection() as unknown as RTCPeerConnection;
  const videoSource = new wrtc.nonstandard.RTCVideoSource();
  const audioSource = new wrtc.nonstandard.RTCAudioSource();
  const videoTrack = videoSource.createTrack();
  const audioTrack = audioSource.createTrack();
  pc.addTransceiver(audioTrack as unknown as MediaStreamTrack, { direction: 'sendonly' });
  pc.addTransceiver(videoTrack as unknown as MediaStreamTrack, { direction: 'sendonly' });
  const frame = new Uint8Array(width * height * 1.5).fill(128);
  let n = 0;
  const videoTimer = setInterval(() => {
    // Moving bars in the luma plane: cheap to draw, not free to encode.
    const shift = (n++ * 4) % width;
    for (let y = 0; y < height; y += 2) {
      const row = y * width;
      for (let x = 0; x < width; x++) frame[row + x] = ((x + shift) & 32) !== 0 ? 235 : 16;
    }
    videoSource.onFrame({ width, height, data: frame });
  }, 1000 / fps);
  const samples = new Int16Array(480);
  let phase = 0;
  const audioTimer = setInterval(() => {
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(Math.sin((phase++ * 2 * Math.PI * 440) / 48000) * 8000);
    audioSource.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: samples.length });
  }, 10);
  const stop = (): void => {
    clearInterval(videoTimer);
    clearInterval(audioTimer);
    videoTrack.stop();
    audioTrack.stop();
  };
  try {
    const location = await negotiate(pc, url, opts.token);
    const close = closer(pc, location, opts.token, stop);
    if (!(await connected(pc, 15_000))) {
      await close();
      throw new Error(`publisher at ${url} did not connect (${pc.connectionState})`);
    }
    return { pc, location, close };
  } catch (err) {
    stop();
    pc.close();
    throw err;
  }
}

/**
 * A recvonly audio + video WHEP viewer. Its offer leaves out the sdes:mid extension: this
 * libwebrtc demuxes by its own offer's extension ids, and mediasoup 3.8.4 sends abs-send-time
 * at id 4 where this client puts MID (README, "Known limits"; bench/fanout.mjs does the same).
 */
export async function wrtcView(url: string, opts: { token?: string } = {}): Promise<Peer> {
  const pc = new wrtc.RTCPeerConnection() as unknown as RTCPeerConnection;
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  try {
    const location = await negotiate(pc, url, opts.token, (s) => s.replace(/^a=extmap:\d+ urn:ietf:params:rtp-hdrext:sdes:mid\r\n/gm, ''));
    return { pc, location, close: closer(pc, location, opts.token, () => undefined) };
  } catch (err) {
    pc.close();
    throw err;
  }
}

/** Video bytes a viewer has received so far. */
export async function videoBytesIn(pc: RTCPeerConnection): Promise<number> {
  let bytes = 0;
  (await pc.getStats()).forEach((s: { type: string; kind?: string; mediaType?: string; bytesReceived?: number }) => {
    if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.mediaType === 'video')) bytes += s.bytesReceived ?? 0;
  });
  return bytes;
}
