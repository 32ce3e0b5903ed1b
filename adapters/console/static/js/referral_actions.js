// A reviewer's actions on a referral (scope reviews:manage): resolve its
// review, void it, reverse one side's reward. Each calls the public API and
// shows its refusal in place.
import { api, enc } from './api.js';
import { h, mount, badge, fmtTime, notice, errorNotice, field } from './dom.js';

let seq = 0; // ids for the labelled inputs of several forms on a page

// resolveForm approves (with a note) or rejects (with a reason) the review
// of code; done(message) runs after either succeeds.
export function resolveForm(code, done) {
  const id = 'rv-note-' + (++seq);
  const note = h('input', { type: 'text', autocomplete: 'off', maxlength: 500 });
  const status = h('div', { 'aria-live': 'polite' });
  const send = async (approve, button) => {
    mount(status);
    const text = note.value.trim();
    if (!approve && !text) {
      mount(status, notice('error', 'Say why you reject it: the reason is recorded and sent with the webhook.'));
      note.focus();
      return;
    }
    button.disabled = true;
    try {
      const { referral } = await api('POST', `/v1/api/reviews/${enc(code)}/${approve ? 'approve' : 'reject'}`,
        approve ? (text ? { note: text } : {}) : { reason: text });
      await done(approve
        ? `Approved ${code}: ${referral.reward_status === 'held' ? 'its rewards stay held until ' + fmtTime(referral.reward_available_at) : 'its rewards are available'}.`
        : `Rejected ${code}: the referral is voided and its rewards reversed.`);
    } catch (err) {
      button.disabled = false;
      mount(status, errorNotice(err, approve ? 'Not approved' : 'Not rejected'));
    }
  };
  const approve = h('button', { type: 'button', text: 'Approve' });
  const reject = h('button', { type: 'button', class: 'danger', text: 'Reject' });
  approve.addEventListener('click', () => send(true, approve));
  reject.addEventListener('click', () => send(false, reject));
  return h('div', { class: 'resolve', 'data-resolve': code },
    field(id, 'Note (approve) or reason (reject) for ' + code, note, 'A reason is required to reject.'),
    h('div', { class: 'row' }, approve, reject), status);
}

// reviewCard shows the referral's review, and resolves an open one.
export function reviewCard(r, { can }, reload) {
  const rv = r.review;
  if (!rv) return null;
  return h('section', { class: 'card', 'aria-labelledby': 'review-h', 'data-review-state': rv.state },
    h('h2', { id: 'review-h' }, 'Review ', badge(rv.state)),
    h('p', {}, 'Flagged ' + fmtTime(rv.flagged_at) + ' for ', h('strong', { text: rv.reasons.join(', ') || 'no reason given' }),
      rv.resolved_at ? '; resolved ' + fmtTime(rv.resolved_at) + '.' : '.'),
    rv.state !== 'open' ? null : can('reviews:manage') ? resolveForm(r.referral_code, reload)
      : notice('', 'Resolving a review needs the reviews:manage scope: sign in with a reviewer or server key.'));
}

// actions are void and reverse-reward, for a key with reviews:manage.
export function actions(r, { can }, reload) {
  if (!can('reviews:manage') || r.status === 'voided' || r.status === 'expired') return null;
  return h('section', { class: 'card', 'aria-labelledby': 'act-h' }, h('h2', { id: 'act-h', text: 'Reviewer actions' }),
    h('div', { class: 'grid2' }, voidForm(r, reload), r.status === 'completed' ? reverseForm(r, reload) : null));
}

function voidForm(r, reload) {
  const reason = h('input', { type: 'text', autocomplete: 'off', 'aria-required': 'true', maxlength: 500 });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { 'aria-labelledby': 'void-h', 'data-form': 'void', novalidate: true }, h('h3', { id: 'void-h', text: 'Void this referral' }),
    h('p', { class: 'muted', text: 'It stops counting; unclaimed rewards are reversed, claimed ones reversed with clawback.' }),
    field('void-reason', 'Reason', reason), h('button', { type: 'submit', class: 'danger', text: 'Void referral' }), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(status);
    if (!reason.value.trim()) {
      mount(status, notice('error', 'Give a reason: it is recorded and sent with the webhook.'));
      reason.focus();
      return;
    }
    try {
      await api('POST', '/v1/api/referral/void', { referral_code: r.referral_code, reason: reason.value.trim() });
      await reload(`Voided ${r.referral_code}.`);
    } catch (err) {
      mount(status, errorNotice(err, 'Not voided'));
    }
  });
  return form;
}

function reverseForm(r, reload) {
  const statusOf = { referrer: r.reward_status, referee: r.referee_reward_status };
  const sides = Object.keys(statusOf).filter((s) => !['none', 'reversed'].includes(statusOf[s]));
  if (sides.length === 0) return h('p', { class: 'muted', text: 'No reward left to reverse.' });
  const side = h('select', {}, sides.map((s) => h('option', { value: s, text: `${s} (${statusOf[s]})` })));
  const reason = h('input', { type: 'text', autocomplete: 'off', 'aria-required': 'true', maxlength: 500 });
  const clawback = h('input', { type: 'checkbox', id: 'rev-clawback' });
  const clawRow = h('label', { class: 'inline', for: 'rev-clawback' }, clawback,
    'It was claimed: reverse it with clawback (your app must recover it)');
  const status = h('div', { 'aria-live': 'polite' });
  const sync = () => { clawRow.hidden = statusOf[side.value] !== 'claimed'; };
  side.addEventListener('change', sync);
  sync();
  const form = h('form', { 'aria-labelledby': 'rev-h', 'data-form': 'reverse', novalidate: true }, h('h3', { id: 'rev-h', text: 'Reverse a reward' }),
    field('rev-side', 'Side', side), field('rev-reason', 'Reason', reason), clawRow,
    h('div', {}, h('button', { type: 'submit', class: 'danger', text: 'Reverse reward' })), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(status);
    if (!reason.value.trim()) return mount(status, notice('error', 'Give a reason: it is recorded and sent with the webhook.'));
    if (!clawRow.hidden && !clawback.checked) {
      return mount(status, notice('error', 'This reward was claimed: tick the clawback box to confirm your app will recover it.'));
    }
    try {
      await api('POST', '/v1/api/referral/reverse-reward', { referral_code: r.referral_code, side: side.value, reason: reason.value.trim() });
      await reload(`Reversed the ${side.value} reward of ${r.referral_code}${clawRow.hidden ? '' : ', with clawback'}.`);
    } catch (err) {
      mount(status, errorNotice(err, 'Not reversed'));
    }
  });
  return form;
}
