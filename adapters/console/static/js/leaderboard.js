// Leaderboard by period.
import { api, query } from './api.js';
import { h, mount, notice, table, num } from './dom.js';

export async function render(root) {
  const box = h('div');
  mount(root, h('h1', { text: 'Leaderboard' }), box);
  await show(box, 'all');
}

async function show(box, period) {
  const { leaderboard } = await api('GET', query('/v1/api/referral/leaderboard', { period, limit: 100 }));
  const buttons = [['all', 'All time'], ['7d', '7 days'], ['30d', '30 days'], ['90d', '90 days']].map(([p, label]) =>
    h('button', { type: 'button', class: 'secondary', 'aria-pressed': String(p === period), text: label, onclick: () => show(box, p) }));
  mount(box, h('div', { class: 'row', role: 'group', 'aria-label': 'Period' }, buttons),
    leaderboard.length === 0 ? notice('', 'Nobody has referred anyone in this period yet.')
      : table('Leaderboard', ['#', 'Referrer', { text: 'Completed', cls: 'num' }, { text: 'Total', cls: 'num' },
        { text: 'Pending', cls: 'num' }, { text: 'Expired', cls: 'num' }, 'Reward total'],
      leaderboard.map((e) => [String(e.rank), e.referrer_name ? `${e.referrer_name} (${e.referrer_id})` : e.referrer_id,
        num(e.completed), num(e.total), num(e.pending), num(e.expired), e.total_reward_value ?? '—'])));
}
