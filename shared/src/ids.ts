import { monotonicFactory, isValid } from 'ulid';
import { z } from 'zod';
import { badRequest } from './errors.js';

const nextUlid = monotonicFactory();

/** Sortable, path- and object-key-safe id (ULID), monotonic within this process. */
export const newId = (): string => nextUlid();
export const isId = (v: string): boolean => isValid(v) && v.length === 26;

export const ROOM_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const RoomNameSchema = z.string().regex(ROOM_NAME_RE, 'room names are 1-64 letters, digits, "_" or "-"');
/** A room name from a URL path segment; 400 bad_room_name when it is not one. */
export function roomFromPath(v: string | undefined): string {
  if (!v || !ROOM_NAME_RE.test(v)) throw badRequest('bad_room_name', 'room names are 1-64 letters, digits, "_" or "-"');
  return v;
}

export const IdSchema = z.string().refine(isId, 'not a valid id (ULID)');
