/**
 * OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set or MK_TRACING=1 (then to the OTLP/HTTP
 * default, http://localhost:4318). One trace per import: the producer's enqueue (BullMQ's span, through
 * bullmq-otel), the worker's processing of the job (its context carried in the job), and every MoneyKit call made
 * on its behalf (timeApiCall's span). Spans carry ids, endpoints and outcomes, never request or response bodies.
 */
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BullMQOtel } from 'bullmq-otel';
import { z } from 'zod';
import { loadConfig } from '@mk/shared';

export const tracingEnvSchema = z.object({
  /** Where spans go (OTLP over HTTP); setting it turns tracing on. Read by the exporter itself, as the spec says. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  /** Traces on without an endpoint: to the collector on localhost:4318. */
  MK_TRACING: z.enum(['0', '1']).default('0'),
});

export interface Tracing {
  enabled: boolean;
  /** For every BullMQ Queue and Worker (`telemetry` option); undefined while tracing is off. */
  queueTelemetry: BullMQOtel | undefined;
  /** Sends what is buffered; call before the process exits. */
  shutdown(): Promise<void>;
}

const TRACER = 'moneykit-migrator';
let current: Tracing = { enabled: false, queueTelemetry: undefined, shutdown: async () => undefined };

/** Starts tracing once per process if the environment asks for it; later calls return the same. */
export function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  if (current.enabled) return current;
  const config = loadConfig(tracingEnvSchema, env);
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT && config.MK_TRACING !== '1') return current;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  current = {
    enabled: true,
    queueTelemetry: new BullMQOtel({ tracerName: TRACER }),
    shutdown: () => provider.shutdown(),
  };
  return current;
}

/** The BullMQ `telemetry` option of this process: spread it into Queue and Worker options. */
export const queueTelemetry = (): { telemetry?: BullMQOtel } =>
  current.queueTelemetry ? { telemetry: current.queueTelemetry } : {};

/**
 * A finished MoneyKit call as a span of the active trace (the job's, inside a worker), from its start to now. Told
 * after the fact by the client's response hook, so the client needs no tracing of its own. A no-op while off.
 */
export function traceApiCall(call: {
  endpoint: string;
  status?: number;
  durationMs: number;
  errorClass?: string;
}): void {
  if (!current.enabled) return;
  const span = trace.getTracer(TRACER).startSpan(
    `moneykit ${call.endpoint}`,
    {
      kind: SpanKind.CLIENT,
      startTime: Date.now() - call.durationMs,
      attributes: {
        'mk.endpoint': call.endpoint,
        ...(call.status !== undefined && { 'http.response.status_code': call.status }),
        ...(call.errorClass && { 'mk.error_class': call.errorClass }),
      },
    },
    context.active(),
  );
  if (call.errorClass) span.setStatus({ code: SpanStatusCode.ERROR, message: call.errorClass });
  span.end();
}
