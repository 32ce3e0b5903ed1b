// Settings: a form that saves with PUT and shows the API's validation
// error beside the field it names.
import { api } from './api.js';
import { h, mount, notice, errorNotice, field } from './dom.js';

const rewardTypes = ['', 'points', 'credit', 'discount', 'custom'];

// fields: name, label, kind, hint.
const fields = [
  ['referrals_enabled', 'Referrals enabled', 'bool'],
  ['referral_expiration_days', 'Expiration (days)', 'int', 'Empty: referrals never expire.'],
  ['referral_max_per_user', 'Max referrals per user', 'int', 'Empty: no limit.'],
  ['referral_milestones', 'Milestones', 'list', 'Comma-separated, in order. Empty: any name is accepted.'],
  ['referral_reward_milestone', 'Reward milestone', 'text', 'Reaching it completes the referral.'],
  ['reward_type', 'Referrer reward type', 'type'],
  ['reward_value', 'Referrer reward value', 'opt', 'For example 500, $5 or 10% off.'],
  ['referee_reward_type', 'Referee reward type', 'type'],
  ['referee_reward_value', 'Referee reward value', 'opt'],
  ['referral_url_template', 'Referral URL template', 'opt', 'An http(s) URL containing {code}.'],
];

export async function render(root, { can }) {
  const current = await api('GET', '/v1/api/referral/settings');
  const inputs = {};
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', novalidate: true });
  const controls = fields.map(([name, label, kind, hint]) => {
    const v = current[name];
    let input;
    if (kind === 'bool') {
      input = h('input', { type: 'checkbox', checked: v });
      inputs[name] = input;
      input.id = 's-' + name;
      return h('div', { class: 'field' }, h('label', { class: 'inline', for: input.id }, input, label),
        h('div', { class: 'error', id: input.id + '-error', 'aria-live': 'polite' }));
    }
    if (kind === 'type') {
      input = h('select', {}, rewardTypes.map((t) => h('option', { value: t, text: t || 'none', selected: t === (v ?? '') })));
    } else {
      const value = kind === 'list' ? (v ?? []).join(', ') : (v ?? '');
      input = h('input', { type: kind === 'int' ? 'number' : 'text', value, inputmode: kind === 'int' ? 'numeric' : null });
    }
    inputs[name] = input;
    return field('s-' + name, label, input, hint);
  });
  const readOnly = !can('settings:write');
  mount(form, h('div', { class: 'grid2' }, controls),
    readOnly ? notice('', 'This key can read the settings but not change them (settings:write).')
      : h('button', { type: 'submit', text: 'Save settings' }), status);
  if (readOnly) for (const i of Object.values(inputs)) i.disabled = true;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(inputs);
    mount(status);
    const body = {};
    for (const [name, , kind] of fields) {
      const i = inputs[name];
      if (kind === 'bool') body[name] = i.checked;
      else if (kind === 'int') body[name] = i.value.trim() === '' ? null : Number(i.value);
      else if (kind === 'list') body[name] = i.value.split(',').map((s) => s.trim()).filter(Boolean);
      else if (kind === 'text') body[name] = i.value.trim();
      else body[name] = i.value.trim() === '' ? null : i.value.trim();
    }
    try {
      await api('PUT', '/v1/api/referral/settings', body);
      mount(status, notice('ok', 'Saved. New referrals use these settings now.'));
    } catch (err) {
      const name = err.status === 400 && fields.map((f) => f[0]).sort((a, b) => b.length - a.length)
        .find((n) => err.message.includes(n));
      if (name) {
        showError(inputs[name], err.message);
        mount(status, notice('error', 'Not saved: fix the highlighted field.'));
      } else {
        mount(status, errorNotice(err, 'Not saved'));
      }
    }
  });
  mount(root, h('h1', { text: 'Settings' }), form);
}

function showError(input, message) {
  input.setAttribute('aria-invalid', 'true');
  const err = document.getElementById(input.id + '-error');
  err.textContent = message;
  input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), err.id].filter(Boolean).join(' '));
  input.focus();
}

function clearErrors(inputs) {
  for (const i of Object.values(inputs)) {
    i.removeAttribute('aria-invalid');
    const err = document.getElementById(i.id + '-error');
    if (err) err.textContent = '';
  }
}
