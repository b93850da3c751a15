// The hub's stamp on an edge, in the description of the frontend it owns: the fence of the leader
// that wrote it and the hash of the configuration it wrote. One definition of the format.

const PREFIX = 'ingressfed';

export interface EdgeStamp {
  /** The fencing token of the leader that last wrote the edge. */
  fence: number | undefined;
  /** Hash of the desired structure last committed to the edge. */
  config: string | undefined;
}

export function formatStamp(s: EdgeStamp): string {
  return [PREFIX, ...(s.config !== undefined ? [`config=${s.config}`] : []), ...(s.fence !== undefined ? [`fence=${s.fence}`] : [])].join(' ');
}

export function parseStamp(description: unknown): EdgeStamp {
  const out: EdgeStamp = { fence: undefined, config: undefined };
  if (typeof description !== 'string') return out;
  const [head, ...words] = description.trim().split(/\s+/);
  if (head !== PREFIX) return out;
  for (const w of words) {
    const [k, v] = w.split('=', 2);
    if (k === 'fence' && v !== undefined && /^\d+$/.test(v)) out.fence = Number(v);
    if (k === 'config' && v !== undefined && /^[0-9a-f]{16,64}$/.test(v)) out.config = v;
  }
  return out;
}
