/*
 * signin.js: the officer sign-in page (docs/security.md). POST /api/session with the name
 * and password; the server sets the HttpOnly session cookie, and the page goes back to
 * where the officer came from (?next=, a path of this site only) or to the map. A locked
 * name (429) is told how long to wait. An API token can still be given instead: it is kept
 * as auth.js keeps one (localStorage "corridor.token").
 */
(function () {
  'use strict';
  const form = document.getElementById('signin-form');
  const name = document.getElementById('name'), password = document.getElementById('password');
  const go = document.getElementById('go'), error = document.getElementById('error');

  // only a path of this site: never "//other.example" or "https://..."
  function next() {
    const n = new URLSearchParams(location.search).get('next') || '/';
    return /^\/(?![\/\\])/.test(n) && !/^\/signin\.html/.test(n) ? n : '/';
  }

  // a session already: nothing to do here
  fetch('/api/session', { credentials: 'same-origin' })
    .then(r => (r.ok ? r.json() : null))
    .then(s => { if (s && s.via === 'session') location.replace(next()); }, () => {});

  form.addEventListener('submit', async e => {
    e.preventDefault();
    error.textContent = '';
    go.disabled = true;
    try {
      const r = await fetch('/api/session', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: name.value.trim(), password: password.value }),
      });
      if (r.ok) {
        password.value = '';
        location.replace(next());
        return;
      }
      const body = await r.json().catch(() => ({}));
      if (r.status === 429) {
        const wait = r.headers.get('Retry-After') || '?';
        error.textContent = `Too many failed sign-ins under this name. Try again in ${wait} s.`;
      } else if (r.status === 401) {
        error.textContent = 'Wrong name or password.';
      } else {
        error.textContent = body.detail || `Sign-in failed (${r.status}).`;
      }
      password.select();
    } catch (err) {
      error.textContent = 'The server cannot be reached.';
    } finally {
      go.disabled = false;
    }
  });

  document.getElementById('token-go').addEventListener('click', () => {
    const t = document.getElementById('token').value.trim();
    if (!t) return;
    try { localStorage.setItem('corridor.token', t); sessionStorage.setItem('corridor.token', t); } catch (e) { /* page only */ }
    location.replace(next());
  });
  name.focus();
})();
