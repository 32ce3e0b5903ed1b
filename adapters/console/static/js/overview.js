// Overview: stats, created/completed per day, and webhook health.
import { api, query, enc } from './api.js';
import { h, mount, fmtPct, fmtTime, notice, errorNotice, table } from './dom.js';
import { lineChart } from './chart.js';

export async function render(root, { can }) {
  const stats = await api('GET', '/v1/api/referral/stats');
  const chartBox = h('div', { class: 'card' });
  const health = h('section', { 'aria-labelledby': 'health-h' });
  const card = (name, label, value) => h('div', { class: 'stat', 'data-stat': name },
    h('div', { class: 'label', text: label }), h('div', { class: 'value', text: value }));
  mount(root, h('h1', { text: 'Overview' }),
    h('div', { class: 'cards' },
      card('total', 'Referrals', stats.total), card('pending', 'Pending', stats.pending),
      card('completed', 'Completed', stats.completed), card('expired', 'Expired', stats.expired),
      stats.voided === undefined ? null : card('voided', 'Voided', stats.voided),
      stats.under_review === undefined ? null : card('under_review', 'Under review', stats.under_review),
      card('conversion_rate', 'Conversion rate', fmtPct(stats.conversion_rate))),
    stats.under_review > 0 && can('reviews:manage') ? notice('', `${stats.under_review} referral(s) wait for review: `,
      h('a', { href: '#/reviews', text: 'open the review queue' }), '.') : null,
    stats.total === 0 ? notice('', 'No referrals yet. Your app creates them with POST /v1/api/referral/create; they show here within a second.') : null,
    chartBox, health);
  await showChart(chartBox, 30);
  if (can('webhooks:manage')) await showHealth(health);
}

async function showChart(box, days) {
  const today = new Date();
  const from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - days + 1));
  const buttons = [7, 30, 90].map((n) => h('button', { type: 'button', class: 'secondary', 'aria-pressed': String(n === days),
    text: n + ' days', onclick: () => showChart(box, n) }));
  let body;
  try {
    const { points } = await api('GET', query('/v1/api/referral/stats/series', { from: from.toISOString().slice(0, 10), interval: 'day' }));
    const created = points.reduce((a, p) => a + p.created, 0);
    const completed = points.reduce((a, p) => a + p.completed, 0);
    body = [h('p', { class: 'muted', 'data-series-total': created,
      text: `${created} created and ${completed} completed in the last ${days} days (UTC).` }),
    lineChart(points, `Referrals created and completed per day, last ${days} days`)];
  } catch (err) {
    body = errorNotice(err, 'The chart could not load');
  }
  mount(box, h('div', { class: 'row' }, h('h2', { text: 'Per day' }), h('div', { role: 'group', 'aria-label': 'Period' }, buttons)), body);
}

// showHealth lists the endpoints whose deliveries fail or wait, and the
// oldest delivery that is due.
async function showHealth(box) {
  const { webhooks } = await api('GET', '/v1/api/webhooks');
  const rows = [];
  let oldest = null;
  for (const wh of webhooks.slice(0, 20)) {
    const path = '/v1/api/webhooks/' + enc(wh.id) + '/deliveries';
    const [failed, pending] = await Promise.all([
      api('GET', query(path, { status: 'failed', limit: 100 })),
      api('GET', query(path, { status: 'pending', limit: 100 }))]);
    for (const d of pending.deliveries) {
      if (d.next_attempt_at && (!oldest || d.next_attempt_at < oldest.d.next_attempt_at)) oldest = { wh, d };
    }
    const streak = wh.failure_streak ?? 0;
    if (failed.deliveries.length || streak > 0 || (wh.state && wh.state !== 'active')) {
      rows.push([h('a', { href: '#/webhook/' + enc(wh.id), text: wh.name }), h('code', { text: wh.url }),
        String(failed.deliveries.length) + (failed.deliveries.length === 100 ? '+' : ''), String(pending.deliveries.length),
        wh.state ?? (wh.active ? 'active' : 'inactive')]);
    }
  }
  mount(box, h('h2', { id: 'health-h', text: 'Webhook health' }),
    webhooks.length === 0 ? notice('', 'No webhooks yet. ', h('a', { href: '#/webhooks', text: 'Add one' }), ' to hear about referrals as they happen.')
      : rows.length === 0 ? notice('ok', `All ${webhooks.length} endpoint(s) healthy: no failed deliveries.`)
        : table('Failing endpoints', ['Endpoint', 'URL', 'Failed', 'Pending', 'State'], rows),
    oldest ? h('p', { 'data-oldest-due': oldest.d.id }, 'Oldest due delivery: ', h('code', { text: oldest.d.event }), ' to ',
      h('a', { href: '#/webhook/' + enc(oldest.wh.id), text: oldest.wh.name }), ', due ' + fmtTime(oldest.d.next_attempt_at) + '.')
      : h('p', { class: 'muted', text: 'No deliveries are waiting.' }));
}
