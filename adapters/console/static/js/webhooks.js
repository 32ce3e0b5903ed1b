// Webhooks: the list, and a form to add one that shows its secret once.
import { api, enc } from './api.js';
import { h, mount, badge, notice, errorNotice, field, table, copyButton } from './dom.js';

export const eventTypes = ['referral.created', 'referral.completed', 'referral.milestone_reached',
  'referral.reward_claimed', 'referral.expired', 'referral.flagged', 'referral.review_resolved',
  'referral.reward_reversed', 'referral.voided'];

// eventBoxes is a labelled group of checkboxes, one per event type.
export function eventBoxes(prefix, checked) {
  const boxes = eventTypes.map((t) => h('input', { type: 'checkbox', value: t, id: prefix + t, checked: checked.includes(t) }));
  const group = h('fieldset', { class: 'field' }, h('legend', { text: 'Events' }),
    boxes.map((b) => h('label', { class: 'inline', for: b.id }, b, b.value)));
  return { group, selected: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

// secretPanel shows a secret with a copy button and the warning that it is
// shown only this once.
export function secretPanel(secret) {
  return notice('ok', h('strong', { text: 'Secret — shown only now. Store it where your receiver can read it.' }),
    h('div', { class: 'secret' }, h('code', { 'data-secret': '', text: secret }), copyButton(secret, 'Copy secret')));
}

export async function render(root) {
  const list = h('div');
  const name = h('input', { type: 'text', required: true, autocomplete: 'off' });
  const url = h('input', { type: 'url', required: true, placeholder: 'https://example.com/hooks/referrals' });
  const active = h('input', { type: 'checkbox', checked: true, id: 'wh-active' });
  const events = eventBoxes('wh-ev-', eventTypes);
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'wh-new' }, h('h2', { id: 'wh-new', text: 'Add a webhook' }),
    h('div', { class: 'grid2' }, field('wh-name', 'Name', name), field('wh-url', 'URL', url, 'https only, unless the server allows private addresses.')),
    events.group, h('label', { class: 'inline', for: 'wh-active' }, active, 'Active'),
    h('div', {}, h('button', { type: 'submit', text: 'Add webhook' })), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const wh = await api('POST', '/v1/api/webhooks', { name: name.value.trim(), url: url.value.trim(),
        events: events.selected(), active: active.checked });
      name.value = '';
      url.value = '';
      mount(status, secretPanel(wh.secret), h('p', {}, h('a', { href: '#/webhook/' + enc(wh.id), text: 'Open ' + wh.name })));
      await show(list);
    } catch (err) {
      mount(status, errorNotice(err, 'Not added'));
    }
  });
  mount(root, h('h1', { text: 'Webhooks' }), list, form);
  await show(list);
}

async function show(list) {
  const { webhooks } = await api('GET', '/v1/api/webhooks');
  mount(list, webhooks.length === 0 ? notice('', 'No webhooks yet: add one below to receive referral events.')
    : table('Webhooks', ['Name', 'URL', 'Events', 'State'], webhooks.map((w) =>
      [h('a', { href: '#/webhook/' + enc(w.id), text: w.name }), h('code', { text: w.url }),
        h('span', { class: 'chips' }, w.events.map((e) => h('span', { class: 'chip', text: e }))),
        badge(w.state ?? (w.active ? 'active' : 'inactive'))])));
}
