// Real WebRTC clients for tests: Debian's Chromium driven by playwright-core, with fake camera
// and microphone (or known content from files), and small in-page WHIP/WHEP clients.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(opts: { fakeVideo?: string; fakeAudio?: string } = {}): Promise<Browser> {
  const dir = await mkdtemp(join(tmpdir(), 'lw-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--allow-loopback-in-peer-connection',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ];
  if (opts.fakeVideo) args.push(`--use-file-for-fake-video-capture=${opts.fakeVideo}`);
  if (opts.fakeAudio) args.push(`--use-file-for-fake-audio-capture=${opts.fakeAudio}`);
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * getUserMedia and WebRTC need a secure context: about:blank is not one, http://127.0.0.1 is.
 * Puts the page on the server's origin (a cheap JSON page) unless it is there already.
 */
async function onOrigin(page: Page, url: string): Promise<void> {
  const origin = new URL(url).origin;
  if (page.url().startsWith(origin + '/')) return;
  await page.goto(`${origin}/healthz`);
}

/**
 * An in-page WHIP (publish: fake camera + microphone, sendonly) or WHEP (view: recvonly audio +
 * video) session, non-trickle as most clients do it. The peer connection is kept in
 * window.__pub / window.__view. Publishing resolves once connected; viewing once answered.
 */
async function session(
  page: Page,
  kind: 'publish' | 'view',
  url: string,
  token: string | undefined,
  videoCodec?: string,
  size?: PublishSize,
): Promise<{ location: string; status: number }> {
  await onOrigin(page, url);
  return page.evaluate(
    async ({ kind, url, token, videoCodec, size }) => {
      const pc = new RTCPeerConnection();
      if (kind === 'publish') {
        const video = size
          ? { width: { exact: size.width }, height: { exact: size.height }, frameRate: 30 }
          : { width: 640, height: 360, frameRate: 30 };
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
        for (const t of stream.getTracks()) {
          const tr = pc.addTransceiver(t, { direction: 'sendonly' });
          // A chosen size is kept (frames dropped instead under CPU or bandwidth pressure), so
          // the recording has it from the start rather than after the bandwidth ramps up.
          if (t.kind === 'video' && size) {
            const p = tr.sender.getParameters() as RTCRtpSendParameters & { degradationPreference?: string };
            p.degradationPreference = 'maintain-resolution';
            await tr.sender.setParameters(p).catch(() => {});
          }
          // Offer only this video codec (and its RTX), as a client configured for it would.
          if (t.kind === 'video' && videoCodec) {
            const codecs = RTCRtpSender.getCapabilities('video')?.codecs ?? [];
            const wanted = codecs.filter((c) => c.mimeType.toLowerCase() === `video/${videoCodec.toLowerCase()}`);
            if (wanted.length === 0) throw new Error(`this browser cannot send ${videoCodec}`);
            tr.setCodecPreferences([...wanted, ...codecs.filter((c) => c.mimeType.toLowerCase() === 'video/rtx')]);
          }
        }
      } else {
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addTransceiver('video', { direction: 'recvonly' });
      }
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
        setTimeout(resolve, 2000);
      });
      const headers: Record<string, string> = { 'Content-Type': 'application/sdp' };
      if (token) headers['Authorization'] = `Bearer ${token}`;
      const res = await fetch(url, { method: 'POST', headers, body: pc.localDescription!.sdp });
      if (res.status !== 201) return { location: '', status: res.status };
      await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
      (window as unknown as Record<string, RTCPeerConnection>)[kind === 'publish' ? '__pub' : '__view'] = pc;
      if (kind === 'publish') {
        await new Promise<void>((resolve, reject) => {
          const check = () => {
            if (pc.connectionState === 'connected') resolve();
            if (pc.connectionState === 'failed') reject(new Error('publisher connection failed'));
          };
          pc.addEventListener('connectionstatechange', check);
          check();
          setTimeout(() => reject(new Error(`publisher not connected after 10 s (${pc.connectionState})`)), 10_000);
        });
      }
      // Relative to the URL that answered: after a 307 that is the other instance.
      return { location: new URL(res.headers.get('Location')!, res.url).href, status: res.status };
    },
    { kind, url, token, videoCodec, size },
  );
}

/** The publisher's camera size (default 640×360). */
export interface PublishSize {
  width: number;
  height: number;
}

/** In-page WHIP publish of the fake camera + microphone (optionally offering one video codec only); resolves once connected. */
export const whipPublish = (page: Page, url: string, token?: string, videoCodec?: 'VP8' | 'VP9' | 'H264', size?: PublishSize) =>
  session(page, 'publish', url, token, videoCodec, size);

/** In-page WHEP playback; resolves with the session URL once answered. */
export const whepPlay = (page: Page, url: string, token?: string) => session(page, 'view', url, token);

/** The viewer's inbound-rtp counters (framesDecoded for video, packets for audio). */
export async function viewerStats(page: Page): Promise<{ framesDecoded: number; audioPackets: number; state: string }> {
  return page.evaluate(async () => {
    const pc = (window as unknown as { __view?: RTCPeerConnection }).__view;
    if (!pc) return { framesDecoded: 0, audioPackets: 0, state: 'none' };
    let framesDecoded = 0;
    let audioPackets = 0;
    (await pc.getStats()).forEach((s: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'video') framesDecoded += s.framesDecoded ?? 0;
      if (s.kind === 'audio') audioPackets += s.packetsReceived ?? 0;
    });
    return { framesDecoded, audioPackets, state: pc.connectionState };
  });
}
