/** A tiny HTTP client for tests: real requests to a listening dashboard, redirects not followed. */
export interface Reply {
  status: number;
  headers: Headers;
  body: string;
  json<T = any>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as an HTML form post. */
  form?: Record<string, string>;
  /** Sent as is (set its content-type in headers). */
  body?: string;
}

export async function request(base: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const headers = { ...opts.headers };
  let body: string | undefined = opts.body;
  if (opts.form) {
    body = new URLSearchParams(opts.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(`${base}${path}`, {
    method: opts.method ?? (opts.form ? 'POST' : 'GET'),
    headers,
    body,
    redirect: 'manual',
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text, json: () => JSON.parse(text) };
}

export const basicAuth = (u: { username: string; password: string }) =>
  `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
