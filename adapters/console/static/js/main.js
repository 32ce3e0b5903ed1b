// The console's shell: sign in, navigation by the URL fragment, and the
// pages, each shown only when the key's scopes allow what it does.
import { api, apiKey, setKey, clearKey, whenUnauthorized, APIError } from './api.js';
import { h, mount, notice, field } from './dom.js';
import * as overview from './overview.js';
import * as referrals from './referrals.js';
import * as referral from './referral.js';
import * as leaderboard from './leaderboard.js';
import * as settings from './settings.js';
import * as webhooks from './webhooks.js';
import * as webhook from './webhook.js';
import * as events from './events.js';
import * as reviews from './reviews.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

// pages: the fragment's first segment, the title, the scope it needs, the
// module, and whether it is in the navigation.
const pages = [
  { path: '', title: 'Overview', scope: 'referrals:read', mod: overview, nav: true },
  { path: 'referrals', title: 'Referrals', scope: 'referrals:read', mod: referrals, nav: true },
  { path: 'referral', title: 'Referral', scope: 'referrals:read', mod: referral },
  { path: 'leaderboard', title: 'Leaderboard', scope: 'referrals:read', mod: leaderboard, nav: true },
  { path: 'settings', title: 'Settings', scope: 'referrals:read', mod: settings, nav: true },
  { path: 'webhooks', title: 'Webhooks', scope: 'webhooks:manage', mod: webhooks, nav: true },
  { path: 'webhook', title: 'Webhook', scope: 'webhooks:manage', mod: webhook },
  { path: 'reviews', title: 'Reviews', scope: 'reviews:manage', mod: reviews, nav: true },
  { path: 'events', title: 'Events', scope: 'events:read', mod: events, nav: true },
];

let me = null; // the whoami answer
let leave = null; // the current page's cleanup (streams to stop)

function can(scope) { return !!me && me.scopes.includes(scope); }

function signInPage(message) {
  nav.hidden = true;
  who.hidden = true;
  const input = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const status = h('div', { 'aria-live': 'polite' }, message ? notice('error', message) : null);
  const form = h('form', { class: 'card signin' },
    h('h1', { text: 'Sign in' }),
    h('p', { class: 'muted', text: 'Paste an API key. It stays in this tab only (sessionStorage) and goes to this server alone.' }),
    field('api-key', 'API key', input),
    h('button', { type: 'submit', text: 'Sign in' }), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      me = await api('GET', '/v1/api/whoami', undefined, { key: input.value.trim() });
      setKey(input.value.trim());
      input.value = '';
      route();
    } catch (err) {
      mount(status, notice('error', err.status === 401
        ? 'That key was not accepted: check it was copied whole and is not revoked.'
        : 'Sign-in failed: ' + err.message));
    }
  });
  document.title = 'Sign in · Referral Ledger';
  mount(main, form);
  input.focus();
}

function signOut(message) {
  if (leave) leave();
  leave = null;
  clearKey();
  me = null;
  signInPage(message);
}

function chrome(current) {
  nav.hidden = false;
  mount(nav, pages.filter((p) => p.nav && can(p.scope)).map((p) =>
    h('a', { href: '#/' + p.path, 'aria-current': p === current ? 'page' : null, text: p.title })));
  who.hidden = false;
  mount(who,
    h('span', {}, 'Appspace ', h('strong', { text: me.appspace_name ?? me.appspace_id })),
    h('span', { class: 'chip', text: me.role }),
    h('button', { type: 'button', class: 'secondary', onclick: () => signOut(), text: 'Sign out' }));
}

async function route() {
  if (!apiKey()) return signInPage();
  if (!me) {
    try {
      me = await api('GET', '/v1/api/whoami');
    } catch (err) {
      return signOut(err instanceof APIError && err.status === 401 ? 'Your key is no longer valid: sign in again.' : err.message);
    }
  }
  if (leave) leave();
  leave = null;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const page = pages.find((p) => p.path === parts[0]) ?? pages[0];
  chrome(page);
  document.title = page.title + ' · Referral Ledger';
  if (!can(page.scope)) {
    mount(main, h('h1', { text: page.title }), notice('error',
      `This key (role ${me.role}) lacks the ${page.scope} scope this page needs. Sign in with a key that has it.`));
    return;
  }
  mount(main, h('p', { class: 'muted', text: 'Loading…' }));
  try {
    leave = (await page.mod.render(main, { me, can, params: parts.slice(1) })) ?? null;
  } catch (err) {
    mount(main, h('h1', { text: page.title }), notice('error', 'This page could not load: ' + err.message +
      '. Reload to retry.'));
  }
  main.focus({ preventScroll: true });
}

whenUnauthorized(() => signOut('Your key is no longer valid: sign in again.'));
window.addEventListener('hashchange', route);
route();
