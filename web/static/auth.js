/*
 * auth.js: the API token of every page (docs/security.md). Loaded first by index.html,
 * arming.html and rru.html so the other scripts need no change.
 *
 * The token comes from the address (#token=... , or ?token=...), which is then cleaned
 * out of the address bar, else from localStorage ("corridor.token"). window.fetch is
 * wrapped to add "Authorization: Bearer TOKEN" to same-origin /api/ and /metrics requests,
 * and window.WebSocket to append ?token= to /ws. When there is no token, or the server
 * refuses it (401), a small sign-in box asks for one; the page reloads with it.
 */
(function () {
  'use strict';
  const KEY = 'corridor.token';
  const store = {
    get() { try { return localStorage.getItem(KEY) || sessionStorage.getItem(KEY) || ''; } catch (e) { return ''; } },
    set(t) {
      try {
        if (t) { localStorage.setItem(KEY, t); sessionStorage.setItem(KEY, t); }
        else { localStorage.removeItem(KEY); sessionStorage.removeItem(KEY); }
      } catch (e) { /* storage disabled: the token lives for this page only */ }
    },
  };

  let token = '';
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const query = new URLSearchParams(location.search);
  const given = hash.get('token') || query.get('token');
  if (given) {
    token = given.trim();
    store.set(token);
    // the token stays out of the address bar, the history and screenshots
    hash.delete('token');
    query.delete('token');
    const q = query.toString(), h = hash.toString();
    history.replaceState(null, '', location.pathname + (q ? `?${q}` : '') + (h ? `#${h}` : ''));
  } else {
    token = store.get();
  }

  function needsToken(url) {
    try {
      const u = new URL(url, location.href);
      return u.origin === location.origin &&
        (u.pathname.startsWith('/api/') || u.pathname === '/metrics' || u.pathname === '/ws');
    } catch (e) { return false; }
  }

  let asked = false;
  function signIn(reason) {
    if (asked || !document.body) {
      if (!asked) document.addEventListener('DOMContentLoaded', () => signIn(reason), { once: true });
      return;
    }
    asked = true;
    const box = document.createElement('form');
    box.id = 'signin';
    box.setAttribute('style', 'position:fixed;z-index:10000;top:12px;left:50%;transform:translateX(-50%);' +
      'background:#fff;color:#222;border:1px solid #999;border-radius:6px;padding:10px 14px;' +
      'font:14px system-ui,sans-serif;box-shadow:0 2px 12px rgba(0,0,0,.3)');
    const label = document.createElement('label');
    label.textContent = reason + ' API token: ';
    const input = document.createElement('input');
    input.type = 'password';
    input.name = 'token';
    input.autocomplete = 'off';
    input.size = 40;
    input.placeholder = 'cor_…';
    const go = document.createElement('button');
    go.type = 'submit';
    go.textContent = 'Sign in';
    label.appendChild(input);
    box.append(label, ' ', go);
    box.addEventListener('submit', e => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      store.set(t);
      location.reload();
    });
    document.body.appendChild(box);
    input.focus();
  }

  const realFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!needsToken(url)) return realFetch(input, init);
    const headers = new Headers((init && init.headers) || (input instanceof Request ? input.headers : undefined));
    if (token && !headers.has('Authorization')) headers.set('Authorization', `Bearer ${token}`);
    return realFetch(input, Object.assign({}, init, { headers })).then(r => {
      if (r.status === 401) signIn(token ? 'Your token was refused. Another' : 'Sign in with an');
      return r;
    });
  };

  const RealWS = window.WebSocket;
  function CorridorWebSocket(url, protocols) {
    let u = url;
    try {
      const x = new URL(url, location.href);
      if (token && x.pathname === '/ws' && x.host === location.host && !x.searchParams.has('token')) {
        x.searchParams.set('token', token);
        u = x.href;
      }
    } catch (e) { /* not a URL we know: as given */ }
    return protocols === undefined ? new RealWS(u) : new RealWS(u, protocols);
  }
  CorridorWebSocket.prototype = RealWS.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'])
    Object.defineProperty(CorridorWebSocket, k, { value: RealWS[k] });
  window.WebSocket = CorridorWebSocket;

  window.corridorAuth = {
    token: () => token,
    signOut() { store.set(''); token = ''; signIn('Sign in with an'); },
  };
  if (!token) signIn('Sign in with an');
})();
