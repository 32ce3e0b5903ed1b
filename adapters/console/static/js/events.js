// Events: the log filtered by type, paged, and a live tail (NDJSON with
// follow=true, read as a fetch stream).
import { api, request, query } from './api.js';
import { h, mount, fmtTime, notice, errorNotice, field, table } from './dom.js';

export async function render(root) {
  const type = h('input', { type: 'text', placeholder: 'ReferralCreated,ReferralCompleted', autocomplete: 'off' });
  const results = h('div');
  const tail = h('ol', { class: 'tail', reversed: true, 'aria-live': 'polite', 'aria-label': 'Live events' });
  const tailButton = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', text: 'Start live tail' });
  let abort = null;
  let after = 0;
  const stop = () => {
    if (abort) abort.abort();
    abort = null;
    tailButton.setAttribute('aria-pressed', 'false');
    tailButton.textContent = 'Start live tail';
  };

  async function page(from) {
    try {
      const out = await api('GET', query('/v1/api/events', { after: from, limit: 50, type: type.value.replace(/\s/g, '') }));
      after = Math.max(after, out.next_after);
      mount(results, out.events.length === 0 ? notice('', from ? 'No more events.' : 'No events match. Clear the type filter, or create a referral.')
        : table('Events', ['Position', 'Type', 'Stream', 'Recorded', 'Request id'], out.events.map(row)),
      h('div', { class: 'pager' }, h('button', { type: 'button', class: 'secondary', text: 'From the start', onclick: () => page(0) }),
        h('button', { type: 'button', class: 'secondary', disabled: out.events.length < 50, text: 'Next 50', onclick: () => page(out.next_after) })));
    } catch (err) {
      mount(results, errorNotice(err, 'Events could not load'));
    }
  }

  async function follow() {
    if (abort) return stop();
    abort = new AbortController();
    tailButton.setAttribute('aria-pressed', 'true');
    tailButton.textContent = 'Stop live tail';
    try {
      const resp = await request('GET', query('/v1/api/events', { after, follow: 'true', type: type.value.replace(/\s/g, '') }),
        { accept: 'application/x-ndjson', signal: abort.signal });
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        const lines = buf.split('\n');
        buf = lines.pop();
        for (const line of lines.filter(Boolean)) {
          const e = JSON.parse(line);
          if (e.error) { tail.prepend(h('li', { class: 'error', text: 'Stream ended: ' + e.error })); continue; }
          after = Math.max(after, e.position);
          tail.prepend(h('li', { 'data-position': e.position }, h('code', { text: e.type }), ` at ${fmtTime(e.recorded_at)} (#${e.position}) `,
            h('span', { class: 'muted', text: e.stream })));
        }
      }
    } catch (err) {
      if (err.name !== 'AbortError') tail.prepend(h('li', {}, errorNotice(err, 'The live tail stopped')));
    }
    stop();
  }
  tailButton.addEventListener('click', follow);

  const form = h('form', { class: 'row', 'aria-label': 'Filter events' }, field('ev-type', 'Event types (comma-separated)', type),
    h('button', { type: 'submit', text: 'Filter' }), tailButton);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); stop(); after = 0; page(0); });
  mount(root, h('h1', { text: 'Events' }), form, h('h2', { text: 'Live' }),
    h('p', { class: 'muted', text: 'The live tail shows events after the last one listed, newest first, until you stop it or leave the page.' }),
    tail, h('h2', { text: 'Log' }), results);
  await page(0);
  return stop;
}

function row(e) {
  return [String(e.position), h('code', { text: e.type }), h('code', { text: e.stream }), fmtTime(e.recorded_at),
    h('code', { text: e.metadata?.request_id ?? '—' })];
}
