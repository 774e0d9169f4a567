// Trace context carried in a recording's stored options and job payloads, so work done long
// after the start request (a transcode minutes later, on another machine) is a span in the
// same trace as that request.
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { inSpan } from '../tracing.js';

/** The active context's W3C traceparent, if a span is active and sampled. */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'];
}

/** Runs `fn` in a span whose parent is `traceparent` (or the active context when absent). */
export function inSpanUnder<T>(
  traceparent: string | undefined,
  service: string,
  name: string,
  attributes: Record<string, string>,
  fn: () => Promise<T>,
): Promise<T> {
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : context.active();
  return context.with(parent, () => inSpan(service, name, attributes, fn));
}
