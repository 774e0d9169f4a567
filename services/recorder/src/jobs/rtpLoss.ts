// Packets lost and late on a capture's RTP, as ffmpeg's RTP demuxer reports them on stderr:
// "RTP: missed N packets" (a sequence gap it gave up waiting for) and "RTP: PT=…: bad cseq …"
// (a packet older than one already passed on: late or duplicated). Counted per capture (logged
// at the end of the run) and in the recorder's lw_recorder_rtp_packets_total{result}.
import type { RecorderMetrics } from '../metrics.js';

const MISSED_RE = /RTP: missed (\d+) packets/;
const BAD_CSEQ_RE = /RTP: PT=[0-9a-f]+: bad cseq/i;

export class RtpLossCounter {
  readonly totals = { lost: 0, late: 0 };
  readonly #metrics: Pick<RecorderMetrics, 'rtpPackets'>;

  constructor(metrics: Pick<RecorderMetrics, 'rtpPackets'>) {
    this.#metrics = metrics;
  }

  /** Counts `line` if it reports loss or lateness; true when it did. */
  count(line: string): boolean {
    const missed = MISSED_RE.exec(line);
    if (missed) {
      const n = Number(missed[1]);
      this.totals.lost += n;
      this.#metrics.rtpPackets.inc({ result: 'lost' }, n);
      return true;
    }
    if (BAD_CSEQ_RE.test(line)) {
      this.totals.late++;
      this.#metrics.rtpPackets.inc({ result: 'late' });
      return true;
    }
    return false;
  }
}
