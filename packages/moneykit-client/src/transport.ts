/**
 * The HTTP layer: one axios instance on keep-alive agents, configured so that nothing axios does is
 * implicit — bodies go out as the exact string given, every status comes back as a value (no axios error
 * carrying our headers), responses come back as text for us to parse and validate.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import type { HeaderBag } from './retry-after';

export interface TransportOptions {
  baseUrl: string;
  maxSockets: number;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  timeoutMs: number;
  headers: Record<string, string>;
  /** Sent byte for byte. */
  data?: string;
}

export interface HttpResponse {
  status: number;
  headers: HeaderBag;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  body: unknown;
}

/** How long past its timeout a call may run before it is aborted outright. */
export const HARD_DEADLINE_GRACE_MS = 1000;

export class Transport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly axios: AxiosInstance;

  constructor({ baseUrl, maxSockets }: TransportOptions) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets });
    this.axios = axios.create({
      baseURL: baseUrl.replace(/\/+$/, ''),
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text',
      transformRequest: [(data: unknown) => data],
      transformResponse: [(data: unknown) => data],
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false },
    });
  }

  /** Resolves with any HTTP status; rejects only when no response came back (the raw axios error: classify it, never rethrow it). */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const res = await this.axios.request<string>({
      method: req.method,
      url: req.path,
      timeout: req.timeoutMs,
      // axios's timeout is a socket idle timer: a request still waiting for a socket, or one trickling bytes, can
      // outlive it. A wall-clock deadline bounds every call whatever the socket does.
      signal: AbortSignal.timeout(req.timeoutMs + HARD_DEADLINE_GRACE_MS),
      headers: req.headers,
      ...(req.data !== undefined && { data: req.data }),
    });
    return { status: res.status, headers: toHeaderBag(res.headers), body: parseJson(res.data) };
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function toHeaderBag(headers: unknown): HeaderBag {
  const h = headers as { toJSON?: () => HeaderBag } | undefined;
  return typeof h?.toJSON === 'function' ? h.toJSON() : ((headers ?? {}) as HeaderBag);
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
