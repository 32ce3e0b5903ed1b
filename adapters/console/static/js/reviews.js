// The review queue: referrals a fraud rule flagged, oldest first, each with
// what fired and a form to approve (with a note) or reject (with a reason).
import { api, query, enc } from './api.js';
import { h, mount, fmtTime, notice, errorNotice, field } from './dom.js';
import { resolveForm } from './referral_actions.js';

const reasonText = { same_ip: 'same IP as the referrer', same_device: 'same device as the referrer',
  velocity: 'too many completions in a day' };

export async function render(root) {
  const state = h('select', {}, ['open', 'approved', 'rejected'].map((s) => h('option', { value: s, text: s })));
  const results = h('div', { 'aria-live': 'polite' });
  const done = h('div', { 'aria-live': 'polite' });
  const cursors = [''];

  async function page(i) {
    try {
      const out = await api('GET', query('/v1/api/reviews', { state: state.value, limit: 20, cursor: cursors[i] }));
      if (out.next_cursor) cursors[i + 1] = out.next_cursor;
      mount(results, out.reviews.length === 0 ? notice('', i > 0 ? 'No more reviews.' : state.value === 'open'
        ? 'Nothing to review. Referrals show here when a fraud rule fires and review_mode (Settings) is flag or hold.'
        : 'No ' + state.value + ' reviews yet.')
        : h('ul', { class: 'reviews' }, out.reviews.map((rv) => item(rv, state.value === 'open', (message) => {
          // The API has resolved it; the list (a read model) may show it
          // for a moment more, so it leaves the page now, not on a reload.
          mount(done, notice('ok', message));
          results.querySelector(`[data-review="${CSS.escape(rv.referral_code)}"]`)?.remove();
          if (!results.querySelector('[data-review]')) mount(results, notice('', 'Queue cleared on this page. Show again to load more.'));
        }))),
      out.reviews.length === 0 && i === 0 ? null : h('nav', { class: 'pager', 'aria-label': 'Pages of reviews' },
        h('button', { type: 'button', class: 'secondary', disabled: i === 0, text: 'Previous', onclick: () => page(i - 1) }),
        h('span', { text: 'Page ' + (i + 1) }),
        h('button', { type: 'button', class: 'secondary', disabled: !out.next_cursor, text: 'Next', onclick: () => page(i + 1) })));
    } catch (err) {
      mount(results, errorNotice(err, 'The review queue could not load'));
    }
  }

  const filter = h('form', { class: 'row', 'aria-label': 'Filter reviews' }, field('rv-state', 'State', state),
    h('button', { type: 'submit', text: 'Show' }));
  filter.addEventListener('submit', (ev) => { ev.preventDefault(); cursors.length = 1; mount(done); page(0); });
  mount(root, h('h1', { text: 'Review queue' }), filter, done, results);
  await page(0);
}

function item(rv, open, resolved) {
  return h('li', { class: 'card', 'data-review': rv.referral_code },
    h('div', { class: 'row' },
      h('h2', {}, h('a', { href: '#/referral/' + enc(rv.referral_code), text: rv.referral_code })),
      h('span', { class: 'chips' }, rv.reasons.map((r) => h('span', { class: 'chip warn', title: reasonText[r] ?? r, text: r })))),
    h('dl', { class: 'kv' },
      h('dt', { text: 'Referrer' }), h('dd', { text: rv.referrer_id }),
      h('dt', { text: 'Referred user' }), h('dd', { text: rv.referred_user_id ?? '—' }),
      h('dt', { text: 'Why' }), h('dd', { text: rv.reasons.map((r) => reasonText[r] ?? r).join('; ') || '—' }),
      h('dt', { text: 'Flagged' }), h('dd', { text: fmtTime(rv.flagged_at) }),
      rv.resolved_at ? [h('dt', { text: 'Resolved' }), h('dd', { text: fmtTime(rv.resolved_at) + ' (' + rv.state + ')' })] : null),
    open ? resolveForm(rv.referral_code, resolved) : null);
}
