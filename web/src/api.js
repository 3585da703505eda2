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

// The session's CSRF token: the server refuses a state-changing request
// signed in by the session cookie without it in X-CSRF-Token. The sign-in
// answer and GET /api/v1/auth/me carry it (another site cannot read them);
// it lives in memory only, so a reloaded page asks /auth/me again.
let csrfToken = '';
const sessionPaths = ['/api/v1/auth/login', '/api/v1/auth/me'];
const safeMethods = ['GET', 'HEAD'];

async function fetchCSRFToken(signal) {
  try {
    const res = await fetch('/api/v1/auth/me', { credentials: 'same-origin', signal });
    if (res.ok) csrfToken = (await res.json()).csrf_token || '';
  } catch { /* the request itself reports the failure */ }
}

export async function request(path, { method = 'GET', body, rawBody, headers = {}, signal } = {}) {
  const unsafe = !safeMethods.includes(method.toUpperCase());
  if (unsafe && !csrfToken && path !== '/api/v1/auth/login') await fetchCSRFToken(signal);
  const send = () => {
    const init = { method, headers: { ...headers }, credentials: 'same-origin', signal };
    if (unsafe && csrfToken) init.headers['X-CSRF-Token'] = csrfToken;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    } else if (rawBody !== undefined) {
      init.body = rawBody;
    }
    return fetch(path, init);
  };
  let res;
  try {
    res = await send();
    if (res.status === 403 && unsafe && path !== '/api/v1/auth/login' && (await codeOf(res)) === 'csrf_token_invalid') {
      // Signed in again in another tab: this page's token is the old
      // session's. Take the current one and try once more.
      await fetchCSRFToken(signal);
      res = await send();
    }
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, e.message || 'network error', 'network');
  }
  if (res.ok && sessionPaths.includes(path)) {
    try { csrfToken = (await res.clone().json()).csrf_token || csrfToken; } catch { /* not JSON */ }
  }
  if (path === '/api/v1/auth/logout') csrfToken = '';
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

// codeOf is the code of an error answer, read from a copy of it.
async function codeOf(res) {
  try { return (await res.clone().json()).code || ''; } catch { return ''; }
}

// query builds "?a=1&b=2" from the non-empty values of obj.
export function query(obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null && v !== '' && v !== false) p.set(k, v === true ? '1' : v);
  const s = p.toString();
  return s ? `?${s}` : '';
}
