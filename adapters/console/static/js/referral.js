// A referral: details, milestone timeline, rewards, its events (with the
// acting key and request id) and its webhook deliveries.
import { api, enc } from './api.js';
import { h, mount, badge, fmtTime, notice, errorNotice, table } from './dom.js';

export async function render(root, { params, can }) {
  const code = params[0] ?? '';
  let r;
  try {
    r = await api('GET', '/v1/api/referral/' + enc(code));
  } catch (err) {
    mount(root, h('h1', { text: 'Referral ' + code }), errorNotice(err, 'Referral not shown'),
      h('p', {}, h('a', { href: '#/referrals', text: 'Back to the referrals' })));
    return;
  }
  const kv = (pairs) => h('dl', { class: 'kv' }, pairs.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v ?? '—')]));
  const reward = (side, type, value, claimed, at) => h('div', { class: 'card' }, h('h3', { text: side }),
    kv([['Type', type], ['Value', value], ['Claimed', claimed ? 'yes, ' + fmtTime(at) : 'no']]));
  const audit = h('section', { 'aria-labelledby': 'audit-h' });
  mount(root,
    h('h1', {}, 'Referral ', h('code', { text: r.referral_code }), ' ', badge(r.status)),
    h('div', { class: 'grid2' },
      h('div', { class: 'card' }, kv([['Referrer', r.referrer_name ? `${r.referrer_name} (${r.referrer_id})` : r.referrer_id],
        ['Referred user', r.referred_user_id], ['URL', r.referral_url], ['Created', fmtTime(r.created_at)],
        ['Expires', fmtTime(r.expires_at)], ['Completed', fmtTime(r.completed_at)], ['Expired', fmtTime(r.expired_at)],
        ['Version', String(r.version)]])),
      h('div', { class: 'card' }, h('h2', { id: 'tl-h', text: 'Milestones' }),
        r.milestone_history.length === 0 ? h('p', { class: 'muted', text: 'No milestone reached yet.' })
          : h('ol', { class: 'timeline', 'aria-labelledby': 'tl-h' }, r.milestone_history.map((m) =>
            h('li', {}, h('strong', { text: m.milestone }), h('br'), h('span', { class: 'muted', text: fmtTime(m.timestamp) })))))),
    h('h2', { text: 'Rewards' }),
    h('div', { class: 'grid2' },
      reward('Referrer', r.reward_type, r.reward_value, r.reward_claimed, r.reward_claimed_at),
      reward('Referee', r.referee_reward_type, r.referee_reward_value, r.referee_reward_claimed, r.referee_reward_claimed_at)),
    r.status === 'pending' ? h('p', { class: 'muted', text: 'Reward terms are set from the settings when the referral completes.' }) : null,
    audit);
  if (!can('audit:read')) {
    mount(audit, h('h2', { id: 'audit-h', text: 'Events and deliveries' }),
      notice('', 'Events and webhook deliveries need the audit:read scope: sign in with an auditor or server key to see them.'));
    return;
  }
  try {
    const a = await api('GET', '/v1/api/audit/referrals/' + enc(code));
    mount(audit, h('h2', { id: 'audit-h', text: 'Events' }),
      table('Events of this referral', ['#', 'Type', 'Recorded', 'Key', 'Request id'], a.events.map((e) =>
        [String(e.version), e.type, fmtTime(e.recorded_at), h('code', { text: e.metadata.actor_key_id ?? '—' }),
          h('code', { text: e.metadata.request_id ?? '—' })])),
      h('h2', { text: 'Webhook deliveries' }),
      a.deliveries.length === 0 ? h('p', { class: 'muted', text: 'No webhook deliveries for this referral.' })
        : table('Deliveries', ['Event', 'State', 'Attempts', 'Last status', 'Created'], a.deliveries.map((d) =>
          [d.event, badge(d.state), String(d.attempt_count),
            d.attempts.length ? String(d.attempts[d.attempts.length - 1].status_code ?? 'no response') : '—', fmtTime(d.created_at)])));
  } catch (err) {
    mount(audit, errorNotice(err, 'The audit trail could not load'));
  }
}
