// Client spans for S3 calls: a middleware on the client's own stack opens one span per command
// (PutObject, UploadPart, GetObject, …), so multipart uploads made by lib-storage show their parts
// too. Like the Redis spans, only calls inside a traced operation get one. The span covers the
// SDK's retries (it sits before the retry step) and carries the HTTP status of the last attempt.
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { S3Client } from '@aws-sdk/client-s3';

export function traceS3Client(client: S3Client, bucket: string): void {
  const tracer = trace.getTracer('live-webrtc-s3');
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      if (!trace.getSpan(context.active())) return next(args);
      const op = ctx.commandName?.replace(/Command$/, '') ?? 'unknown';
      return tracer.startActiveSpan(
        `S3 ${op}`,
        {
          kind: SpanKind.CLIENT,
          attributes: { 'rpc.system': 'aws-api', 'rpc.service': 'S3', 'rpc.method': op, 'aws.s3.bucket': bucket },
        },
        async (span) => {
          try {
            const out = await next(args);
            const status = (out.response as { statusCode?: unknown } | undefined)?.statusCode;
            if (typeof status === 'number') span.setAttribute('http.response.status_code', status);
            return out;
          } catch (err) {
            const status = (err as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
            if (typeof status === 'number') span.setAttribute('http.response.status_code', status);
            span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
            throw err;
          } finally {
            span.end();
          }
        },
      );
    },
    { step: 'initialize', name: 'liveWebrtcClientSpan' },
  );
}
