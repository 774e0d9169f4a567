// An object written from a local file while the file still grows (a recording's continuous
// Matroska/WebM file), so that finishing it costs the same whatever its length.
//
// The writer (ffmpeg's Matroska muxer on a seekable file) only ever appends, except at the
// very end, when it seeks back once to fill in the header: segment size, duration, seek head.
// Those bytes sit in the first few KiB. So every byte past a held-back head is final as soon
// as it is written: S3 gets it as multipart parts while the file grows; the head (which must
// be a ≥ 5 MiB part anyway) and the tail go up at the end, then the upload is completed.
// Local storage moves the file into place at the end (a rename on the same file system).

export interface GrowingObject {
  /**
   * Uploads whatever whole parts the file now holds past the head. Returns the bytes uploaded
   * by this call (0 when there was not enough new data). Safe to call often; never concurrently.
   */
  sync(path: string): Promise<number>;
  /**
   * The file is finished (its writer closed it): uploads the held-back head and the tail and
   * makes the object visible under its key. `bytesAtEnd` is what this call had to send.
   */
  complete(path: string): Promise<{ size: number; bytesAtEnd: number }>;
  /** Gives up: nothing becomes visible under the key, uploaded parts are discarded. */
  abort(): Promise<void>;
  /**
   * Only for an object filling a block of a shared upload: stops without completing and says
   * which parts were sent. The upload is completed later from every object's parts.
   */
  park?(): Promise<ParkedParts>;
}

/** The parts a growing object sent into a shared upload before it was parked. */
export interface ParkedParts {
  /** Part number, ETag, and the file bytes [start, end) it holds, in order. */
  parts: { n: number; etag: string; start: number; end: number }[];
  /** Bytes [0, head) were held back (never sent). */
  head: number;
  /** Bytes from here to the end of the file were not sent. */
  next: number;
}
