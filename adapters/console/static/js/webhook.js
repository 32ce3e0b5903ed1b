// A webhook: edit, rotate the secret, send a test, the delivery log with
// each attempt, retry, and replay a time range.
import { api, query, enc } from './api.js';
import { h, mount, badge, fmtTime, notice, errorNotice, field, copyButton } from './dom.js';
import { eventBoxes, secretPanel } from './webhooks.js';

export async function render(root, { params }) {
  const id = params[0] ?? '';
  const base = '/v1/api/webhooks/' + enc(id);
  let wh;
  try {
    wh = await api('GET', base);
  } catch (err) {
    mount(root, h('h1', { text: 'Webhook' }), errorNotice(err, 'Webhook not shown'), h('a', { href: '#/webhooks', text: 'Back to the webhooks' }));
    return;
  }
  const log = h('section', { 'aria-labelledby': 'log-h' });
  mount(root, h('h1', {}, wh.name, ' ', badge(wh.state ?? (wh.active ? 'active' : 'inactive'))),
    h('p', {}, h('code', { text: wh.url })),
    wh.disabled_reason ? notice('error', 'Disabled: ' + wh.disabled_reason + '. Fix the endpoint, then tick Active and save.') : null,
    h('div', { class: 'grid2' }, editForm(base, wh), h('div', {}, testBox(base, log), rotateBox(base), replayBox(base, log))),
    log);
  await showLog(base, log, '');
}

function editForm(base, wh) {
  const name = h('input', { type: 'text', value: wh.name });
  const url = h('input', { type: 'url', value: wh.url });
  const active = h('input', { type: 'checkbox', id: 'e-active', checked: wh.active });
  const events = eventBoxes('e-ev-', wh.events);
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card' }, h('h2', { text: 'Edit' }), field('e-name', 'Name', name), field('e-url', 'URL', url),
    events.group, h('label', { class: 'inline', for: 'e-active' }, active, 'Active'),
    h('div', {}, h('button', { type: 'submit', text: 'Save' })), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('PATCH', base, { name: name.value.trim(), url: url.value.trim(), events: events.selected(), active: active.checked });
      mount(status, notice('ok', 'Saved.'));
    } catch (err) {
      mount(status, errorNotice(err, 'Not saved'));
    }
  });
  return form;
}

function testBox(base, log) {
  const out = h('div', { 'aria-live': 'polite' });
  const send = async () => {
    mount(out, h('p', { class: 'muted', text: 'Sending…' }));
    try {
      const r = await api('POST', base + '/test');
      mount(out, notice(r.success ? 'ok' : 'error', h('span', { 'data-test-result': r.success ? 'success' : 'failure' },
        r.success ? 'Delivered' : 'Failed', `: status ${r.status_code ?? 'none'} in ${r.response_time_ms} ms`,
        r.error ? ' — ' + r.error : '')));
      await showLog(base, log, '');
    } catch (err) {
      mount(out, errorNotice(err, 'Test not sent'));
    }
  };
  return h('div', { class: 'card' }, h('h2', { text: 'Send a test' }),
    h('p', { class: 'muted', text: 'Sends a test event now, whether or not the webhook is active.' }),
    h('button', { type: 'button', text: 'Send test event', onclick: send }), out);
}

function rotateBox(base) {
  const grace = h('input', { type: 'number', value: '3600', min: '0', inputmode: 'numeric' });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card' }, h('h2', { text: 'Rotate the secret' }),
    field('r-grace', 'Grace period (seconds)', grace, 'Both secrets sign during it, so receivers can switch.'),
    h('button', { type: 'submit', class: 'secondary', text: 'Rotate secret' }), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', base + '/rotate-secret', { grace_seconds: Number(grace.value || 0) });
      mount(out, secretPanel(r.secret));
    } catch (err) {
      mount(out, errorNotice(err, 'Not rotated'));
    }
  });
  return form;
}

function replayBox(base, log) {
  const since = h('input', { type: 'datetime-local', required: true });
  const until = h('input', { type: 'datetime-local', required: true });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card' }, h('h2', { text: 'Replay past events' }),
    h('div', { class: 'grid2' }, field('p-since', 'Since (UTC)', since), field('p-until', 'Until (UTC)', until)),
    h('button', { type: 'submit', class: 'secondary', text: 'Replay' }), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', base + '/replay', { since: since.value + ':00Z', until: until.value + ':00Z' });
      mount(out, notice('ok', `Queued ${r.queued} deliveries.`));
      await showLog(base, log, '');
    } catch (err) {
      mount(out, errorNotice(err, 'Not replayed'));
    }
  });
  return form;
}

async function showLog(base, box, state) {
  const filter = h('select', { id: 'log-state' }, ['', 'pending', 'succeeded', 'failed'].map((s) =>
    h('option', { value: s, text: s || 'any', selected: s === state })));
  filter.addEventListener('change', () => showLog(base, box, filter.value));
  let body;
  try {
    const { deliveries } = await api('GET', query(base + '/deliveries', { limit: 50, status: state }));
    body = deliveries.length === 0 ? notice('', 'No deliveries yet. Send a test event, or wait for referral events.')
      : h('ul', { class: 'table-wrap', 'aria-label': 'Deliveries' }, deliveries.map((d) => delivery(base, box, d, state)));
  } catch (err) {
    body = errorNotice(err, 'The delivery log could not load');
  }
  mount(box, h('h2', { id: 'log-h', text: 'Delivery log' }),
    h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'log-state', text: 'State' }), filter),
      h('button', { type: 'button', class: 'secondary', text: 'Refresh', onclick: () => showLog(base, box, filter.value) })),
    body);
}

function delivery(base, box, d, state) {
  const out = h('span', { 'aria-live': 'polite' });
  const retry = async () => {
    try {
      await api('POST', base + '/deliveries/' + enc(d.id) + '/retry');
      mount(out, ' Retry queued.');
      setTimeout(() => showLog(base, box, state), 800);
    } catch (err) {
      mount(out, errorNotice(err, 'Not retried'));
    }
  };
  return h('li', { class: 'card', 'data-delivery': d.id, 'data-state': d.state },
    h('div', { class: 'row' }, h('strong', { text: d.event }), badge(d.state),
      h('span', { class: 'muted', text: `${d.attempt_count} attempt(s), created ${fmtTime(d.created_at)}` }),
      d.next_attempt_at ? h('span', { class: 'muted', text: 'next ' + fmtTime(d.next_attempt_at) }) : null,
      d.waiting_reason ? h('span', { class: 'muted', text: 'waiting: ' + d.waiting_reason }) : null,
      d.state !== 'pending' ? h('button', { type: 'button', class: 'secondary', text: 'Retry now', onclick: retry }) : null, out),
    h('ol', {}, d.attempts.map((a) => h('li', { 'data-attempt': a.attempt },
      badge(a.success ? 'succeeded' : 'failed'), ` ${a.status_code ?? 'no response'} at ${fmtTime(a.attempted_at)} in ${a.response_time_ms} ms`,
      a.error ? ' — ' + a.error : '',
      a.response_body ? h('details', {}, h('summary', { text: 'Response body' }), h('pre', { text: a.response_body }),
        copyButton(a.response_body)) : null))));
}
