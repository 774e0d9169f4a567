// WHIP and WHEP sessions: an SDP offer in, a WebRtcTransport with producers (publish) or
// consumers (view) and an SDP answer out. HTTP concerns stay in http/; SDP text in sdp/.
import { randomBytes } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import { conflict, forbidden, newId, notAcceptable, notFound, type Logger } from '@live-webrtc/shared';
import { SUPPORTED_CODECS } from './codecs.js';
import type { Room, Session } from './room.js';
import {
  buildAnswer,
  parseOffer,
  publishRtpParameters,
  remoteDtlsParameters,
  viewerProfile,
  viewerRtpCapabilities,
  type AnswerSection,
  type SessionOffer,
} from './sdp/index.js';

export interface TransportSettings {
  /** One ICE candidate per entry. */
  listenIps: { ip: string; announcedIp?: string }[];
  maxPublishers: number;
  maxViewers: number;
  /** Viewer routers per room for other payload-type numberings. Default unlimited. */
  maxViewerProfiles?: number;
}

export interface SessionResult {
  session: Session;
  answer: string;
}

export const newEtag = (): string => `"${randomBytes(8).toString('hex')}"`;

async function createTransport(router: ms.Router, t: TransportSettings): Promise<ms.WebRtcTransport> {
  return router.createWebRtcTransport({
    listenIps: t.listenIps,
    enableUdp: true,
    enableTcp: true,
    preferUdp: true,
    initialAvailableOutgoingBitrate: 1_500_000,
  });
}

function local(transport: ms.WebRtcTransport) {
  return {
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates,
    dtlsParameters: transport.dtlsParameters,
  };
}

/** WHIP: the offer's sendonly sections become producers on the room's router. */
export async function publish(room: Room, sdp: string, t: TransportSettings, logger: Logger): Promise<SessionResult> {
  const offer = parseOffer(sdp);
  const release = room.reserve('publish', t.maxPublishers, () =>
    conflict('room_has_publisher', `room "${room.name}" already has ${room.publishers.length} publisher(s)`),
  );
  try {
    return await publishReserved(room, offer, t, logger);
  } finally {
    release();
  }
}

async function publishReserved(room: Room, offer: SessionOffer, t: TransportSettings, logger: Logger): Promise<SessionResult> {
  const plans = offer.media.map((m) => ({
    media: m,
    rtpParameters:
      m.port !== 0 && m.direction !== 'recvonly' && m.direction !== 'inactive'
        ? publishRtpParameters(m, room.router.rtpCapabilities)
        : null,
  }));
  if (!plans.some((p) => p.rtpParameters)) {
    throw notAcceptable(
      'unsupported_media',
      'the offer has no audio/video section with a codec this server supports (Opus, VP8, VP9, H.264)',
    );
  }
  const transport = await createTransport(room.router, t);
  const sessionId = newId();
  // Recordings name participants by an id of their own: the session id is a capability (DELETE).
  const participant = newId();
  try {
    await transport.connect({ dtlsParameters: remoteDtlsParameters(offer) });
    const producers: ms.Producer[] = [];
    const sections: AnswerSection[] = [];
    for (const plan of plans) {
      if (!plan.rtpParameters) {
        sections.push({ type: 'rejected', mid: plan.media.mid });
        continue;
      }
      const producer = await transport.produce({
        kind: plan.media.kind,
        rtpParameters: plan.rtpParameters,
        appData: { mid: plan.media.mid, participant },
      });
      producers.push(producer);
      sections.push({ type: 'recv', mid: plan.media.mid, rtpParameters: plan.rtpParameters });
    }
    const session: Session = {
      id: sessionId,
      kind: 'publish',
      room: room.name,
      transport,
      createdAt: new Date(),
      etag: newEtag(),
      remoteIceUfrag: offer.iceUfrag,
      producers,
      consumers: [],
      sections: [],
      participant,
    };
    watchTransport(room, session, logger);
    room.addSession(session);
    return { session, answer: buildAnswer(offer, local(transport), sections) };
  } catch (err) {
    transport.close();
    throw err;
  }
}

/** WHEP: one consumer per recvonly section, from a router numbered the way the viewer numbers. */
export async function view(room: Room, sdp: string, t: TransportSettings, logger: Logger): Promise<SessionResult> {
  const offer = parseOffer(sdp);
  if (room.producers.length === 0) throw notFound('no_publisher', `room "${room.name}" has no publisher`);
  const release = room.reserve('view', t.maxViewers, () =>
    forbidden('room_full', `room "${room.name}" has reached its limit of ${t.maxViewers} viewers`),
  );
  try {
    return await viewReserved(room, offer, t, logger);
  } finally {
    release();
  }
}

async function viewReserved(room: Room, offer: SessionOffer, t: TransportSettings, logger: Logger): Promise<SessionResult> {
  const profile = viewerProfile(offer, SUPPORTED_CODECS);
  if (profile.mediaCodecs.length === 0) {
    throw notAcceptable('unsupported_media', 'the offer accepts no codec this server sends (Opus, VP8, VP9, H.264)');
  }
  const router = await room.routerFor(profile, t.maxViewerProfiles);
  const caps = viewerRtpCapabilities(offer, router.rtpCapabilities);
  const transport = await createTransport(router, t);
  try {
    await transport.connect({ dtlsParameters: remoteDtlsParameters(offer) });
    const session: Session = {
      id: newId(),
      kind: 'view',
      room: room.name,
      transport,
      createdAt: new Date(),
      etag: newEtag(),
      remoteIceUfrag: offer.iceUfrag,
      producers: [],
      consumers: [],
      sections: offer.media
        .filter((m) => m.port !== 0 && (m.direction === 'recvonly' || m.direction === 'sendrecv'))
        .map((m) => ({ mid: m.mid, kind: m.kind, rtpCapabilities: caps })),
    };
    const sections = await attachConsumers(room, session, router, offer);
    watchTransport(room, session, logger);
    room.addSession(session);
    // A publisher that (re)joins later is attached to this viewer's free sections.
    const onProducer = (p: ms.Producer): void => {
      attachProducer(session, router, p).catch((err: unknown) => logger.warn({ err }, 'could not attach producer to viewer'));
    };
    room.on('producer', onProducer);
    transport.observer.once('close', () => room.off('producer', onProducer));
    return { session, answer: buildAnswer(offer, local(transport), sections) };
  } catch (err) {
    transport.close();
    throw err;
  }
}

async function attachConsumers(room: Room, session: Session, router: ms.Router, offer: SessionOffer): Promise<AnswerSection[]> {
  const used = new Set<string>();
  const out: AnswerSection[] = [];
  for (const m of offer.media) {
    const section = session.sections.find((s) => s.mid === m.mid);
    const producer = section ? room.producers.find((p) => p.kind === m.kind && !used.has(p.id)) : undefined;
    if (!section || !producer || !router.canConsume({ producerId: producer.id, rtpCapabilities: section.rtpCapabilities })) {
      out.push(
        section
          ? { type: 'send-idle', mid: m.mid, kind: m.kind, rtpCapabilities: section.rtpCapabilities }
          : { type: 'rejected', mid: m.mid },
      );
      continue;
    }
    used.add(producer.id);
    const consumer = await consume(session, router, producer, section.rtpCapabilities, m.mid);
    out.push({ type: 'send', mid: m.mid, rtpParameters: consumer.rtpParameters, streamId: room.name });
  }
  return out;
}

async function consume(
  session: Session,
  router: ms.Router,
  producer: ms.Producer,
  rtpCapabilities: ms.RtpCapabilities,
  mid: string,
): Promise<ms.Consumer> {
  // Paused until DTLS connects, so the first packets the viewer gets follow a keyframe request.
  const consumer = await session.transport.consume({ producerId: producer.id, rtpCapabilities, paused: true, appData: { mid } });
  session.consumers.push(consumer);
  consumer.observer.once('close', () => {
    session.consumers = session.consumers.filter((c) => c !== consumer);
  });
  if (session.transport.dtlsState === 'connected') await consumer.resume();
  void router;
  return consumer;
}

/** Attaches a late producer to a viewer section of its kind that has no live consumer. */
async function attachProducer(session: Session, router: ms.Router, producer: ms.Producer): Promise<void> {
  if (session.transport.closed) return;
  const busy = new Set(session.consumers.filter((c) => !c.closed).map((c) => (c.appData as { mid: string }).mid));
  const section = session.sections.find((s) => s.kind === producer.kind && !busy.has(s.mid));
  if (!section) return;
  // The producer reaches viewer routers through pipeToRouter asynchronously: wait for it.
  for (let i = 0; i < 50 && !router.canConsume({ producerId: producer.id, rtpCapabilities: section.rtpCapabilities }); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!router.canConsume({ producerId: producer.id, rtpCapabilities: section.rtpCapabilities })) return;
  await consume(session, router, producer, section.rtpCapabilities, section.mid);
}

/** Resumes viewers on connect; removes sessions whose transport fails or closes. */
function watchTransport(room: Room, session: Session, logger: Logger): void {
  const log = logger.child({ room: room.name, sessionId: session.id, kind: session.kind });
  session.transport.on('dtlsstatechange', (state) => {
    log.info({ state }, 'DTLS state');
    if (state === 'connected') {
      for (const c of session.consumers) c.resume().catch(() => {});
    }
    if (state === 'failed' || state === 'closed') room.removeSession(session.id);
  });
  session.transport.on('icestatechange', (state) => {
    if (state === 'disconnected') log.info('ICE disconnected');
  });
}
