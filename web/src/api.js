import { t, has, list } from './i18n.js';
import { fmtDateTime } from './format.js';

// The API client: JSON in and out, errors as ApiError with the server's
// message and code, and one place that notices an expired session.

// ApiError is a failed call: the HTTP status (0 when no answer came), the
// server's text (English, for logs and API clients), and its code and
// parameters (internal/apperr), which errText shows in the user's language.
export class ApiError extends Error {
  constructor(status, message, code = '', params = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.params = params;
  }
}

// errText is an error as a page shows it: the translation of its code
// filled with its parameters, or its text when the console does not know
// the code (an error of no code, a newer server, a bug in the page).
export function errText(e) {
  if (e && e.code && has(`err.${e.code}`)) return t(`err.${e.code}`, shownParams(e.params || {}));
  return (e && e.message) || String(e);
}

// shownParams renders parameters as the page shows them: a time ("at") in
// the halls' zone, a role by its name, a list as the language joins it.
function shownParams(params) {
  const out = {};
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) out[k] = list(v);
    else if (k === 'at') out[k] = fmtDateTime(v);
    else if (k === 'role' && has(`role.${v}`)) out[k] = t(`role.${v}`);
    else out[k] = v;
  }
  return out;
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
    throw new ApiError(0, e.message || 'network error', 'network');
  }
  if (res.status === 401 && !path.startsWith('/api/v1/auth/login') && !path.startsWith('/api/v1/public/')) {
    const err = await errorOf(res);
    onUnauthorized(err);
    throw err;
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function api(path, opts) {
  const res = await request(path, opts);
  if (res.status === 204) return null;
  return res.json();
}

// errorOf reads the API's error body, {"error", "code", "params"}; an
// answer that is not one (a proxy's page, say) gets the code "http".
async function errorOf(res) {
  try {
    const j = await res.json();
    if (j.error) return new ApiError(res.status, j.error, j.code || '', j.params || {});
  } catch { /* not JSON */ }
  return new ApiError(res.status, res.statusText || `HTTP ${res.status}`, 'http', { status: res.status });
}

// query builds "?a=1&b=2" from the non-empty values of obj.
export function query(obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null && v !== '' && v !== false) p.set(k, v === true ? '1' : v);
  const s = p.toString();
  return s ? `?${s}` : '';
}
