// DOM helpers. Text always goes in through textContent, never innerHTML, so
// nothing the API returns can become markup.

// h builds an element: attrs sets attributes (class, for, aria-*, ...) and
// listeners (onclick, onsubmit, ...); children are nodes or strings.
export function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'g', 'path', 'rect', 'line', 'text', 'polyline', 'circle', 'title'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// mount replaces the children of el.
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// fmtTime shows an RFC 3339 time in UTC, to the second.
export function fmtTime(t) {
  if (!t) return '—';
  return t.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function fmtPct(rate) {
  return (Math.round(rate * 1000) / 10).toFixed(1) + '%';
}

export function badge(state) {
  return h('span', { class: 'badge ' + state, text: state });
}

// notice is a message box; kind is '', 'error' or 'ok'. Errors are announced.
export function notice(kind, ...children) {
  return h('div', { class: 'notice ' + kind, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

// errorNotice explains a failed call and what to do next.
export function errorNotice(err, what) {
  const next = {
    401: 'Your key is no longer valid: sign in again.',
    403: 'This key lacks the scope for this; use a key of another role.',
    404: 'It does not exist in this appspace: check the code or id.',
    429: 'Too many requests: wait a moment and retry.',
  }[err.status] || 'Retry; if it keeps failing, give the request id to the operator.';
  return notice('error', h('strong', { text: (what ? what + ': ' : '') + err.message }), ' ', next,
    err.requestId ? h('span', { class: 'muted' }, ' (request ', h('code', { text: err.requestId }), ')') : null);
}

// field builds a labelled input; the label's for and the input's id match.
export function field(id, label, input, hint) {
  input.id = id;
  const hintEl = hint ? h('div', { class: 'hint', id: id + '-hint', text: hint }) : null;
  if (hintEl) input.setAttribute('aria-describedby', id + '-hint');
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hintEl,
    h('div', { class: 'error', id: id + '-error', 'aria-live': 'polite' }));
}

// table builds a table from column headers and rows of cells.
export function table(caption, headers, rows) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'sr-only', text: caption }),
    h('thead', {}, h('tr', {}, headers.map((c) => h('th', { scope: 'col', class: c.cls, text: c.text ?? c })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) =>
      c && c.cell ? h('td', { class: c.cls }, c.cell) : h('td', {}, c)))))));
}

export function num(v) {
  return { cls: 'num', cell: String(v) };
}

// copyButton copies text to the clipboard and says so.
export function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'secondary', text: label });
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select and copy it by hand';
    }
  });
  return b;
}
