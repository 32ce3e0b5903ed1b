// Checks a referral's audit trail against the checkpoint it carries, in
// the browser: each event's leaf is rebuilt from the values shown (RFC 8785
// canonical JSON), hashed as RFC 6962 leaves, and its inclusion proof must
// lead to the checkpoint's root. Nothing here trusts a hash the server
// computed; the checkpoint's signature is not checked (see decisions.md).

const enc = new TextEncoder();

async function sha256(...parts) {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(len);
  let off = 0;
  for (const p of parts) { buf.set(p, off); off += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

// canonical is RFC 8785 (JCS) for values JSON.parse returned: members
// sorted by UTF-16 code units, ECMAScript number and string forms.
export function canonical(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  const keys = Object.keys(v).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
}

// leafBytes is the leaf of an event as GET /events and the audit trail show it.
export function leafBytes(e) {
  return enc.encode(canonical({ id: e.id, stream: e.stream, version: e.version, type: e.type,
    recorded_at: e.recorded_at, data: e.data ?? null, metadata: e.metadata ?? null }));
}

export async function leafHash(bytes) { return sha256(new Uint8Array([0]), bytes); }
const nodeHash = (l, r) => sha256(new Uint8Array([1]), l, r);

export function fromBase64(s) {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// rootFromInclusion is RFC 9162 section 2.1.3.2: the root an inclusion
// proof leads to, or null when the proof cannot be one for (index, size).
export async function rootFromInclusion(index, size, leaf, proof) {
  if (!(index >= 0 && index < size)) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn /= 2; sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

// parseCheckpoint reads a signed note's C2SP checkpoint text: origin, tree
// size and root hash.
export function parseCheckpoint(note) {
  const lines = (note ?? '').split('\n');
  const size = Number(lines[1]);
  if (lines.length < 3 || !/^\d+$/.test(lines[1] ?? '') || !Number.isSafeInteger(size)) return null;
  try {
    const root = fromBase64(lines[2]);
    return root.length === 32 ? { origin: lines[0], size, root } : null;
  } catch {
    return null;
  }
}

// verifyTrail checks every event of an audit trail. It returns
// {ok, size, pending, problems}: ok only when there is a checkpoint and every event's
// rebuilt leaf is included in it; problems say which event failed and why;
// pending is true when the only problem is events not sealed yet.
export async function verifyTrail(trail) {
  const cp = parseCheckpoint(trail.checkpoint);
  if (!cp) return { ok: false, size: null, pending: true, problems: ['No checkpoint has been signed yet: reload in a few seconds.'] };
  const problems = [];
  let pending = 0;
  for (const e of trail.events) {
    const name = `Event ${e.version} (${e.type})`;
    const inc = e.inclusion;
    if (!inc) {
      problems.push(`${name} is not in checkpoint ${cp.size} yet: reload in a few seconds.`);
      pending++;
      continue;
    }
    const leaf = await leafHash(leafBytes(e));
    if (inc.leaf_hash && !equal(leaf, fromBase64(inc.leaf_hash))) {
      problems.push(`${name}: what is shown does not hash to the leaf the log sealed.`);
      continue;
    }
    let root = null;
    try {
      root = inc.tree_size === cp.size && inc.leaf_index === e.leaf_index
        ? await rootFromInclusion(inc.leaf_index, inc.tree_size, leaf, inc.proof.map(fromBase64)) : null;
    } catch {
      root = null; // a proof hash that is not base64
    }
    if (!root || !equal(root, cp.root)) problems.push(`${name}: its inclusion proof does not lead to the root of checkpoint ${cp.size}.`);
  }
  return { ok: problems.length === 0 && trail.events.length > 0, size: cp.size,
    pending: problems.length > 0 && pending === problems.length, problems };
}
