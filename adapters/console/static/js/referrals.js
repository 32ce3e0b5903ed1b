// Referrals: filters, cursor paging, CSV download, and a jump to a code.
import { api, request, query, enc } from './api.js';
import { h, mount, badge, fmtTime, notice, errorNotice, field, table } from './dom.js';

export async function render(root) {
  const status = h('select', {}, ['', 'pending', 'completed', 'expired', 'voided'].map((s) =>
    h('option', { value: s, text: s || 'any' })));
  const review = h('input', { type: 'checkbox', id: 'f-review' });
  const referrer = h('input', { type: 'text', autocomplete: 'off' });
  const code = h('input', { type: 'text', autocomplete: 'off', placeholder: 'ABC1234567' });
  const results = h('div', { 'aria-live': 'polite' });
  const cursors = ['']; // cursors[i] is page i's cursor
  const filters = () => ({ status: status.value, referrer_id: referrer.value.trim(), review: review.checked ? 'open' : '' });

  async function page(i) {
    try {
      const out = await api('GET', query('/v1/api/referrals', { ...filters(), limit: 25, cursor: cursors[i] }));
      if (out.next_cursor) cursors[i + 1] = out.next_cursor;
      mount(results, out.count === 0 ? notice('', i === 0
        ? 'No referrals match. Clear the filters, or create referrals from your app.' : 'No more referrals.')
        : table('Referrals', ['Code', 'Referrer', 'Referred user', 'Status', 'Milestone', 'Created'],
          out.referrals.map((r) => [h('a', { href: '#/referral/' + enc(r.referral_code), text: r.referral_code }),
            r.referrer_id, r.referred_user_id ?? '—', badge(r.status), r.milestone ?? '—', fmtTime(r.created_at)])),
      h('nav', { class: 'pager', 'aria-label': 'Pages of referrals' },
        h('button', { type: 'button', class: 'secondary', disabled: i === 0, text: 'Previous', onclick: () => page(i - 1) }),
        h('span', { text: 'Page ' + (i + 1) }),
        h('button', { type: 'button', class: 'secondary', disabled: !out.next_cursor, text: 'Next', onclick: () => page(i + 1) })));
    } catch (err) {
      mount(results, errorNotice(err, 'Referrals could not load'));
    }
  }

  async function download() {
    try {
      const resp = await request('GET', query('/v1/api/referrals', filters()), { accept: 'text/csv' });
      const url = URL.createObjectURL(await resp.blob());
      const a = h('a', { href: url, download: 'referrals.csv' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      mount(results, errorNotice(err, 'The CSV could not download'));
    }
  }

  const filterForm = h('form', { class: 'row', 'aria-label': 'Filter referrals' },
    field('f-status', 'Status', status), field('f-referrer', 'Referrer id', referrer),
    h('label', { class: 'inline', for: 'f-review' }, review, 'Under open review'),
    h('button', { type: 'submit', text: 'Filter' }),
    h('button', { type: 'button', class: 'secondary', text: 'Download CSV', onclick: download }));
  filterForm.addEventListener('submit', (ev) => { ev.preventDefault(); cursors.length = 1; page(0); });
  const jump = h('form', { class: 'row', 'aria-label': 'Open a referral' }, field('f-code', 'Referral code', code),
    h('button', { type: 'submit', class: 'secondary', text: 'Open' }));
  jump.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (code.value.trim()) location.hash = '#/referral/' + enc(code.value.trim().toUpperCase());
  });
  mount(root, h('h1', { text: 'Referrals' }), jump, filterForm, results);
  await page(0);
}
