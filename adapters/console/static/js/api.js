// The console's only way to the ledger: the public API, with the key from
// sessionStorage (never the URL, never localStorage).

const keyName = 'ledger.apiKey';

export function apiKey() { return sessionStorage.getItem(keyName); }
export function setKey(k) { sessionStorage.setItem(keyName, k); }
export function clearKey() { sessionStorage.removeItem(keyName); }

// APIError is a refused call: the HTTP status, the API's code and message,
// and the request id to quote.
export class APIError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(f) { onUnauthorized = f; }

// request sends a call and returns the fetch Response; it throws APIError
// for an error status. opts: body (JSON), accept, signal, key.
export async function request(method, path, opts = {}) {
  const headers = { 'X-API-Key': opts.key ?? apiKey() ?? '' };
  if (opts.accept) headers.Accept = opts.accept;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const resp = await fetch(path, { method, headers, body, signal: opts.signal, cache: 'no-store',
    credentials: 'omit', referrerPolicy: 'no-referrer' });
  if (!resp.ok) {
    let data = null;
    try { data = await resp.json(); } catch { /* not JSON: keep the status */ }
    const err = new APIError(resp.status, data?.code ?? 'http_' + resp.status,
      data?.error ?? resp.statusText ?? 'request failed', resp.headers.get('X-Request-ID'));
    if (resp.status === 401 && !opts.key) onUnauthorized(err);
    throw err;
  }
  return resp;
}

// api sends a call and returns its decoded JSON body (null for 204).
export async function api(method, path, body, opts = {}) {
  const resp = await request(method, path, { ...opts, body });
  if (resp.status === 204) return null;
  return resp.json();
}

// query builds a path with the non-empty parameters of params.
export function query(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? path + '?' + s : path;
}

export const enc = encodeURIComponent;
