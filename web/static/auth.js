/*
 * auth.js: who the page acts as (docs/security.md). Loaded first by index.html,
 * arming.html, rru.html and admin.html so the other scripts need no change.
 *
 * Token mode, for machines, devices and old links, exactly as before: the token comes from
 * the address (#token=... or ?token=...), which is then cleaned out of the address bar,
 * else from localStorage ("corridor.token"). window.fetch is wrapped to add
 * "Authorization: Bearer TOKEN" to same-origin /api/ and /metrics requests, and
 * window.WebSocket to append ?token= to /ws. When the server refuses the token (401), a
 * small box asks for another; the page reloads with it.
 *
 * Session mode, for officers, when there is no token: the browser sends the HttpOnly
 * corridor_session cookie by itself; GET /api/session says who is signed in and gives the
 * CSRF token, which the wrapped fetch adds as X-CSRF-Token to every request that changes
 * state. A page with neither a session nor a token (a 401) goes to /signin.html, which
 * brings the officer back. A "Sign out" button joins the page's bar.
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
  // a token in the address decides at once; a kept one only when no session is open
  const fromAddress = !!given;

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

  // ---- session mode (no token): the cookie goes by itself, the CSRF token we add ----
  let session = null, leaving = false, decided = fromAddress;
  function toSignIn() {
    if (leaving) return;
    leaving = true;
    const next = location.pathname + location.search + location.hash;
    location.assign('/signin.html?next=' + encodeURIComponent(next));
  }
  function signOutButton() {
    if (!document.body) {
      document.addEventListener('DOMContentLoaded', signOutButton, { once: true });
      return;
    }
    if (document.getElementById('signout')) return;
    const b = document.createElement('button');
    b.id = 'signout';
    b.type = 'button';
    b.textContent = 'Sign out';
    b.title = `Signed in as ${session.user} (${session.role})`;
    b.setAttribute('style', 'font:inherit;font-size:12px;background:#1a2740;color:#d5deea;' +
      'border:1px solid #2b3b55;border-radius:4px;padding:3px 10px;cursor:pointer');
    b.addEventListener('click', () => window.corridorAuth.signOut());
    const who = document.createElement('span');
    who.id = 'signed-in';
    who.textContent = session.user;
    who.setAttribute('style', 'color:#7d8ba1;font-size:12px');
    const bar = document.getElementById('bar');
    if (bar) {
      if (session.role === 'admin' && location.pathname !== '/admin.html' &&
          !document.querySelector('a[href="/admin.html"]')) {
        const a = document.createElement('a');
        a.className = 'nav';
        a.href = '/admin.html';
        a.textContent = 'Accounts';
        bar.insertBefore(a, bar.querySelector('.status'));
      }
      bar.append(who, b);
    } else {
      const box = document.createElement('div');
      box.setAttribute('style', 'position:fixed;z-index:10000;top:6px;right:10px;display:flex;gap:8px;align-items:center');
      box.append(who, b);
      document.body.appendChild(box);
    }
  }
  const realFetch = window.fetch.bind(window);
  // resolves to the session, or null in token mode
  const sessionReady = fromAddress ? Promise.resolve(null) :
    realFetch('/api/session', { credentials: 'same-origin' })
      .then(r => (r.ok ? r.json() : null))
      .then(s => {
        decided = true;
        if (!s || s.via !== 'session') {
          if (!token) toSignIn();
          return null;
        }
        session = s;
        token = ''; // the session wins over a token kept from earlier
        signOutButton();
        return s;
      }, () => { decided = true; return null; });

  window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!needsToken(url)) return realFetch(input, init);
    const headers = new Headers((init && init.headers) || (input instanceof Request ? input.headers : undefined));
    if (token && !decided) // a kept token: first learn whether a session is open
      return sessionReady.then(() => window.fetch(input, init));
    if (token) {
      if (!headers.has('Authorization')) headers.set('Authorization', `Bearer ${token}`);
      return realFetch(input, Object.assign({}, init, { headers })).then(r => {
        if (r.status === 401) signIn('Your token was refused. Another');
        return r;
      });
    }
    const method = ((init && init.method) || (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const ready = method === 'GET' || method === 'HEAD' ? Promise.resolve(session) : sessionReady;
    return ready.then(s => {
      if (s && s.csrf && !headers.has('X-CSRF-Token')) headers.set('X-CSRF-Token', s.csrf);
      return realFetch(input, Object.assign({ credentials: 'same-origin' }, init, { headers }));
    }).then(r => {
      if (r.status === 401) toSignIn();
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
    session: () => sessionReady,
    signOut() {
      if (token) { store.set(''); token = ''; signIn('Sign in with an'); return Promise.resolve(); }
      return window.fetch('/api/session', { method: 'DELETE' }).catch(() => null)
        .then(() => { leaving = true; location.assign('/signin.html'); });
    },
  };
})();
