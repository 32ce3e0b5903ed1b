// A referral: details, milestone timeline, rewards and their lifecycle, its
// review, the reviewer's actions (void, reverse a reward), its events (with
// the acting key and request id, checked against the signed checkpoint) and
// its webhook deliveries.
import { api, enc } from './api.js';
import { h, mount, badge, fmtTime, notice, errorNotice, table } from './dom.js';
import { actions, reviewCard } from './referral_actions.js';
import { verifyTrail } from './verify.js';

export async function render(root, ctx) {
  const code = ctx.params[0] ?? '';
  let r;
  try {
    r = await api('GET', '/v1/api/referral/' + enc(code));
  } catch (err) {
    mount(root, h('h1', { text: 'Referral ' + code }), errorNotice(err, 'Referral not shown'),
      h('p', {}, h('a', { href: '#/referrals', text: 'Back to the referrals' })));
    return;
  }
  const reload = async (done) => {
    await render(root, ctx);
    if (done) root.querySelector('h1')?.after(notice('ok', done));
  };
  const audit = h('section', { 'aria-labelledby': 'audit-h' });
  mount(root,
    h('h1', {}, 'Referral ', h('code', { text: r.referral_code }), ' ', badge(r.status)),
    r.status === 'voided' ? notice('error', h('strong', { text: 'Voided ' + fmtTime(r.voided_at) + '. ' }),
      'Reason: ' + (r.void_reason || '—') + '. Its rewards are reversed; nothing more can happen to it.') : null,
    h('div', { class: 'grid2' }, details(r), milestones(r)),
    h('h2', { text: 'Rewards' }),
    h('div', { class: 'grid2' },
      reward('Referrer', r.reward_type, r.reward_value, r.reward_status, r.reward_claimed_at),
      reward('Referee', r.referee_reward_type, r.referee_reward_value, r.referee_reward_status, r.referee_reward_claimed_at)),
    r.reward_available_at && [r.reward_status, r.referee_reward_status].includes('held')
      ? h('p', { class: 'muted', text: 'Held rewards become available ' + fmtTime(r.reward_available_at) + '.' }) : null,
    r.status === 'pending' ? h('p', { class: 'muted', text: 'Reward terms are set from the settings when the referral completes.' }) : null,
    reviewCard(r, ctx, reload),
    actions(r, ctx, reload),
    audit);
  if (!ctx.can('audit:read')) {
    mount(audit, h('h2', { id: 'audit-h', text: 'Events and deliveries' }),
      notice('', 'Events and webhook deliveries need the audit:read scope: sign in with an auditor or server key to see them.'));
    return;
  }
  await showAudit(audit, code);
}

const kv = (pairs) => h('dl', { class: 'kv' }, pairs.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v ?? '—')]));

function details(r) {
  return h('div', { class: 'card' }, kv([['Referrer', r.referrer_name ? `${r.referrer_name} (${r.referrer_id})` : r.referrer_id],
    ['Referred user', r.referred_user_id], ['URL', r.referral_url], ['Created', fmtTime(r.created_at)],
    ['Expires', fmtTime(r.expires_at)], ['Completed', fmtTime(r.completed_at)], ['Expired', fmtTime(r.expired_at)],
    ['Version', String(r.version)]]));
}

function milestones(r) {
  return h('div', { class: 'card' }, h('h2', { id: 'tl-h', text: 'Milestones' }),
    r.milestone_history.length === 0 ? h('p', { class: 'muted', text: 'No milestone reached yet.' })
      : h('ol', { class: 'timeline', 'aria-labelledby': 'tl-h' }, r.milestone_history.map((m) =>
        h('li', {}, h('strong', { text: m.milestone }), h('br'), h('span', { class: 'muted', text: fmtTime(m.timestamp) })))));
}

function reward(side, type, value, status, at) {
  return h('div', { class: 'card', 'data-reward': side.toLowerCase() }, h('h3', { text: side }),
    kv([['Type', type], ['Value', value], ['Status', status ? badge(status) : '—'],
      ['Claimed', at ? fmtTime(at) : 'no']]));
}

async function showAudit(audit, code) {
  try {
    const a = await api('GET', '/v1/api/audit/referrals/' + enc(code));
    const mark = h('div', { 'data-verify': 'checking', 'aria-live': 'polite' }, notice('', 'Checking the events against the signed checkpoint…'));
    const clawed = a.events.filter((e) => e.type === 'RewardReversed' && e.data?.clawback);
    mount(audit, h('h2', { id: 'audit-h', text: 'Events' }), mark,
      clawed.map((e) => notice('error', `The ${e.data.side} reward had been claimed: it was reversed with clawback, so your app must recover it.`)),
      table('Events of this referral', ['#', 'Type', 'Recorded', 'Key', 'Request id'], a.events.map((e) =>
        [String(e.version), e.type, fmtTime(e.recorded_at), h('code', { text: e.metadata?.actor_key_id ?? '—' }),
          h('code', { text: e.metadata?.request_id ?? '—' })])),
      h('h2', { text: 'Webhook deliveries' }),
      a.deliveries.length === 0 ? h('p', { class: 'muted', text: 'No webhook deliveries for this referral.' })
        : table('Deliveries', ['Event', 'State', 'Attempts', 'Last status', 'Created'], a.deliveries.map((d) =>
          [d.event, badge(d.state), String(d.attempt_count),
            d.attempts.length ? String(d.attempts[d.attempts.length - 1].status_code ?? 'no response') : '—', fmtTime(d.created_at)])));
    await showVerification(mark, a);
  } catch (err) {
    mount(audit, errorNotice(err, 'The audit trail could not load'));
  }
}

// showVerification shows the verified mark only when every event's proof
// leads to the checkpoint's root, and otherwise what failed.
export async function showVerification(mark, trail) {
  let v;
  try {
    v = await verifyTrail(trail);
  } catch (err) {
    v = { ok: false, size: null, problems: ['The check could not run: ' + err.message] };
  }
  mark.dataset.verify = v.ok ? 'ok' : 'failed';
  if (v.ok) {
    mount(mark, notice('ok', h('strong', { 'data-checkpoint': v.size, text: '✓ Verified against checkpoint ' + v.size }),
      ` — this browser rebuilt all ${trail.events.length} events' leaves and checked their inclusion proofs against the checkpoint's root.`));
    return;
  }
  if (v.pending) {
    mark.dataset.verify = 'pending';
    mount(mark, notice('', h('strong', { text: 'Not verified yet. ' }), 'New events are sealed into the log within a second or two: ',
      h('button', { type: 'button', class: 'secondary', text: 'Check again', onclick: () => location.reload() }),
      h('ul', {}, v.problems.map((p) => h('li', { text: p })))));
    return;
  }
  mount(mark, notice('error', h('strong', { text: 'Not verified' + (v.size ? ' against checkpoint ' + v.size : '') + '. ' }),
    'Do not rely on these events until this clears; if it persists, tell the operator (the log may have been altered).',
    h('ul', {}, v.problems.map((p) => h('li', { text: p })))));
}
