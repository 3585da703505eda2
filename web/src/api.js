// The API client: JSON in and out, errors as ApiError with the server's
// message, and one place that notices an expired session.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onUnauthorized = () => {};

// setUnauthorizedHandler is called by the app: a 401 from any call but the
// sign-in itself means the session ended (expired, revoked, signed out
// elsewhere).
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function request(path, { method = 'GET', body, rawBody, headers = {}, signal } = {}) {
  const init = { method, headers: { ...headers }, credentials: 'same-origin', signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  } else if (rawBody !== undefined) {
    init.body = rawBody;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, e.message || 'network error');
  }
  if (res.status === 401 && !path.startsWith('/api/v1/auth/login') && !path.startsWith('/api/v1/public/')) {
    const msg = await errorText(res);
    onUnauthorized(msg);
    throw new ApiError(401, msg);
  }
  if (!res.ok) throw new ApiError(res.status, await errorText(res));
  return res;
}

export async function api(path, opts) {
  const res = await request(path, opts);
  if (res.status === 204) return null;
  return res.json();
}

async function errorText(res) {
  try {
    const j = await res.json();
    return j.error || res.statusText;
  } catch {
    return res.statusText || `HTTP ${res.status}`;
  }
}

// query builds "?a=1&b=2" from the non-empty values of obj.
export function query(obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null && v !== '' && v !== false) p.set(k, v === true ? '1' : v);
  const s = p.toString();
  return s ? `?${s}` : '';
}
