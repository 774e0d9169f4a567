// Transcoded outputs of a recording (mp4, hls, poster, sprite, audio, composite): where their
// files live, which ones a recording gets, and atomic per-output updates of the manifest.
// Kept apart from the lifecycle (model.ts/store.ts): an output's status never changes the
// recording's, and a failed output never touches the raw file or the other outputs.
import { z } from 'zod';
import { badRequest } from '../errors.js';
import { TRANSCODE_OUTPUT_NAMES, TranscodeOutputNameSchema, type TranscodeOutputName } from '../queue/jobs.js';
import { recordingKeys, type Storage } from '../storage/storage.js';
import type { Recording, RecordingOutput } from './model.js';
import type { RecordingStore } from './store.js';

export interface OutputSpec {
  /** The main file, relative to the recording's prefix (what GET …/outputs/{name} returns). */
  file: string;
  contentType: string;
  /** Outputs made of several files keep them under this directory (served as …/outputs/{name}/{file}). */
  dir?: string;
}

export const OUTPUT_SPECS: Record<TranscodeOutputName, OutputSpec> = {
  mp4: { file: 'recording.mp4', contentType: 'video/mp4' },
  hls: { file: 'hls/master.m3u8', contentType: 'application/vnd.apple.mpegurl', dir: 'hls' },
  poster: { file: 'poster.jpg', contentType: 'image/jpeg' },
  sprite: { file: 'sprite/sprite.jpg', contentType: 'image/jpeg', dir: 'sprite' },
  audio: { file: 'audio.m4a', contentType: 'audio/mp4' },
  composite: { file: 'composite.mp4', contentType: 'video/mp4' },
};

/** Content type of a file inside a multi-file output, by extension. */
export function contentTypeOfFile(file: string): string {
  const ext = file.slice(file.lastIndexOf('.') + 1).toLowerCase();
  const types: Record<string, string> = {
    m3u8: 'application/vnd.apple.mpegurl',
    ts: 'video/mp2t',
    m4s: 'video/iso.segment',
    mp4: 'video/mp4',
    jpg: 'image/jpeg',
    vtt: 'text/vtt; charset=utf-8',
  };
  return types[ext] ?? 'application/octet-stream';
}

/** File names inside a multi-file output: one path segment, no traversal, no odd characters. */
export const OUTPUT_FILE_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
export const isSafeOutputFile = (f: string): boolean => OUTPUT_FILE_RE.test(f) && !f.includes('..');

/** "mp4,hls,poster" → ['mp4','hls','poster'], "none" → []; throws naming the first unknown entry. */
export function parseOutputList(value: string): TranscodeOutputName[] {
  if (value.trim().toLowerCase() === 'none') return [];
  const names = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const out: TranscodeOutputName[] = [];
  for (const n of names) {
    const parsed = TranscodeOutputNameSchema.safeParse(n);
    if (!parsed.success) throw new RangeError(`"${n}" is not an output (expected ${TRANSCODE_OUTPUT_NAMES.join(', ')})`);
    if (!out.includes(parsed.data)) out.push(parsed.data);
  }
  return out;
}

/** A webhook target given per recording: http(s), no credentials in it. */
export const WebhookUrlSchema = z
  .string()
  .max(2048)
  .url()
  .refine((u) => /^https?:$/.test(new URL(u).protocol), 'webhook URLs are http:// or https://')
  .refine((u) => new URL(u).username === '' && new URL(u).password === '', 'webhook URLs must not carry credentials');

/** The optional body of the start request: what this recording gets beyond the deployment's defaults. */
export const RecordingOptionsSchema = z
  .object({
    /** Outputs to make (replaces TRANSCODE_OUTPUTS for this recording); [] = raw only. */
    outputs: z.array(TranscodeOutputNameSchema).max(TRANSCODE_OUTPUT_NAMES.length).optional(),
    /** Further webhook URLs for this recording's events (besides WEBHOOK_URLS). */
    webhookUrls: z.array(WebhookUrlSchema).max(5).optional(),
  })
  .strict();
export type RecordingOptionsInput = z.infer<typeof RecordingOptionsSchema>;

/** What is stored next to the manifest (recordings/{id}/options.json). */
export const StoredRecordingOptionsSchema = RecordingOptionsSchema.extend({
  /** The start request's trace context, so the jobs of this recording join its trace. */
  traceparent: z.string().max(128).optional(),
}).strip();
export type RecordingOptions = z.infer<typeof StoredRecordingOptionsSchema>;

export const recordingOptionsKey = (id: string): string => `${recordingKeys.prefix(id)}options.json`;

export async function saveRecordingOptions(storage: Storage, id: string, o: RecordingOptions): Promise<void> {
  await storage.putBytes(recordingOptionsKey(id), JSON.stringify(o), 'application/json');
}

/** The recording's stored options; null when none were saved (yet). */
export async function loadRecordingOptions(storage: Storage, id: string): Promise<RecordingOptions | null> {
  const raw = await storage.getBytes(recordingOptionsKey(id));
  if (!raw) return null;
  const parsed = StoredRecordingOptionsSchema.safeParse(JSON.parse(raw.toString('utf8')));
  return parsed.success ? parsed.data : null;
}

/** Parses a start request body (empty = {}); 400 invalid_options otherwise. */
export function parseRecordingOptions(body: unknown): RecordingOptionsInput {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) return {};
  const r = RecordingOptionsSchema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0];
    throw badRequest('invalid_options', `${i?.path.join('.') || 'body'}: ${i?.message ?? 'invalid'}`);
  }
  return r.data;
}

/** The output entry as the manifest holds it, before anything is made. */
export function pendingOutput(name: TranscodeOutputName): RecordingOutput {
  const spec = OUTPUT_SPECS[name];
  return {
    name,
    file: spec.file,
    contentType: spec.contentType,
    size: null,
    status: 'pending',
    progress: 0,
    durationMs: null,
    etaSeconds: null,
    error: null,
  };
}

/** Adds `pending` entries for outputs the recording does not list yet (idempotent). */
export function addPendingOutputs(store: RecordingStore, id: string, names: readonly TranscodeOutputName[]): Promise<Recording> {
  return store.update(id, (r) => {
    const missing = names.filter((n) => !r.outputs.some((o) => o.name === n));
    if (missing.length === 0) return null;
    return { ...r, outputs: [...r.outputs, ...missing.map(pendingOutput)] };
  });
}

export type OutputPatch = Partial<Omit<RecordingOutput, 'name'>>;

/**
 * Applies `patch` to one output, atomically against concurrent writers of the same manifest
 * (the store's compare-and-set). `when` can veto the change (e.g. a progress update arriving
 * after the output is already ready). Returns the output after the update, or null when the
 * recording has no such output.
 */
export async function updateOutput(
  store: RecordingStore,
  id: string,
  name: string,
  patch: OutputPatch,
  when: (cur: RecordingOutput) => boolean = () => true,
): Promise<RecordingOutput | null> {
  let result: RecordingOutput | null = null;
  await store.update(id, (r) => {
    const cur = r.outputs.find((o) => o.name === name);
    if (!cur || !when(cur)) {
      result = cur ?? null;
      return null;
    }
    const next: RecordingOutput = { ...cur, ...patch, name };
    result = next;
    return { ...r, outputs: r.outputs.map((o) => (o.name === name ? next : o)) };
  });
  return result;
}
