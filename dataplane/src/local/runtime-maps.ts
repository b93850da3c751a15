import { basename, dirname } from 'node:path';
import { ApiError, badRequest, conflict, notFound } from './api-error.js';
import { writeFileAtomic } from './config-store.js';
import type { MapStorage } from './map-storage.js';
import type { MapEntry, MapFile } from './model.js';
import { Mutex } from './mutex.js';
import { statsCommand } from './runtime.js';

// Runtime maps through HAProxy's stats socket: the maps the running configuration has loaded, read
// with `show map` and changed with `add map`, `set map`, `del map` and `clear map`. Nothing here
// reloads HAProxy. `force_sync` writes a map's runtime contents to its file, so a reload keeps them.

/**
 * What a key may not contain: whitespace and control characters (they would split the CLI line or
 * the map file line), the characters the spec's pattern forbids, and `\`, the CLI's escape character.
 */
// eslint-disable-next-line no-control-regex
const BAD_KEY = /[\s\u0000-\u001f\u007f<>*;$#&{}"\\]/;
/** A value is one word: no whitespace or control characters, no `;` (the CLI's command separator), no `\`. */
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\s\u0000-\u001f\u007f;\\]/;
const MAX_WORD_BYTES = 4096;
/** Payload bytes per `add map` request: HAProxy drops a request longer than its 16 kB buffer unanswered. */
const PAYLOAD_CHUNK_BYTES = 12_000;

function checkWord(what: 'key' | 'value', s: string, bad: RegExp, allowed: string): void {
  if (s === '') throw badRequest(`map entry ${what} must not be empty`);
  if (Buffer.byteLength(s) > MAX_WORD_BYTES) throw badRequest(`map entry ${what} is longer than ${MAX_WORD_BYTES} bytes`);
  const hit = bad.exec(s);
  if (hit) throw badRequest(`map entry ${what} '${clip(s)}' contains ${JSON.stringify(hit[0])}: ${allowed}`);
}

export function checkKey(key: string): void {
  checkWord('key', key, BAD_KEY, 'keys may not contain whitespace, control characters or any of <>*;$#&{}"\\');
}

export function checkValue(value: string): void {
  checkWord('value', value, BAD_VALUE, 'values are one word, without control characters, \';\' or \'\\\'');
  // A CLI line ending with `<<` announces a payload: `set map ... x<<` would wait for one.
  if (value.endsWith('<<')) throw badRequest('map entry value must not end with \'<<\'');
}

/** Parses `show map`: a `# id (file) description` header, then one `<id> (<file>) <description>` line per loaded map. */
export function parseShowMaps(text: string): MapFile[] {
  const out: MapFile[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^(\S+) \((\S+)\) ?(.*)$/.exec(line);
    if (!m) throw new Error(`unexpected line '${clip(line)}'`);
    out.push({ id: m[1], file: m[2], description: m[3] });
  }
  return out;
}

/** Parses `show map <file>`: one `<id> <key> <value>` line per entry; the value is the rest of the line. */
export function parseShowMapEntries(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^(0x[0-9a-f]+) (\S+) (.+)$/.exec(line);
    if (!m) throw new Error(`unexpected line '${clip(line)}'`);
    out.push({ id: m[1], key: m[2], value: m[3] });
  }
  return out;
}

/** Groups payload lines into requests of at most `maxBytes` (a longer line goes alone). */
export function chunkLines(lines: readonly string[], maxBytes: number): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let size = 0;
  for (const line of lines) {
    const n = Buffer.byteLength(line) + 1;
    if (cur.length > 0 && size + n > maxBytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(line);
    size += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** The map file format HAProxy loads: `key value` per line. */
export const mapFileText = (entries: readonly MapEntry[]): string => entries.map((e) => `${e.key} ${e.value}\n`).join('');

const verbOf = (cmd: string): string => cmd.split(' ').slice(0, 2).join(' ');

export class RuntimeMaps {
  /** One write at a time, so a key's presence is checked and acted on without a race. */
  private readonly lock = new Mutex();

  constructor(private readonly statsSocket: string, private readonly storage: MapStorage) {}

  private command(cmd: string, payload?: readonly string[]): Promise<string> {
    return statsCommand(this.statsSocket, cmd, payload);
  }

  private async read<T>(cmd: string, parse: (text: string) => T): Promise<T> {
    const text = await this.command(cmd);
    try {
      return parse(text);
    } catch (err) {
      throw new ApiError(500, `unexpected answer from HAProxy to '${verbOf(cmd)}': ${(err as Error).message}`, { cause: err });
    }
  }

  /** A map write: HAProxy answers an empty line on success, its reason otherwise, nothing if it dropped the request. */
  private async write(cmd: string, payload?: readonly string[]): Promise<void> {
    const answer = await this.command(cmd, payload);
    if (answer === '') throw new ApiError(500, `HAProxy closed the runtime socket without answering '${verbOf(cmd)}'`);
    if (answer.trim() !== '') throw badRequest(`runtime command '${verbOf(cmd)}' failed: ${answer.trim()}`);
  }

  /** The maps HAProxy has loaded from the maps directory; with `includeUnmanaged`, those from anywhere. */
  async list(includeUnmanaged: boolean): Promise<MapFile[]> {
    const out: MapFile[] = [];
    for (const m of await this.read('show map', parseShowMaps)) {
      const file = m.file as string;
      if (dirname(file) === this.storage.dir) out.push({ ...m, storage_name: basename(file) });
      else if (includeUnmanaged) out.push(m);
    }
    return out;
  }

  /** The loaded map a `{name}` designates; 404 when HAProxy has not loaded it. */
  async get(name: string): Promise<MapFile & { file: string }> {
    const file = this.storage.mapPath(name);
    const m = (await this.read('show map', parseShowMaps)).find((x) => x.file === file);
    if (!m) throw notFound(`map ${name} is not loaded by HAProxy: no line of the running configuration uses ${file}`);
    return { ...m, file, storage_name: basename(file) };
  }

  async entries(name: string): Promise<MapEntry[]> {
    return this.show((await this.get(name)).file);
  }

  /** One entry by its exact key (as dataplaneapi answers it: key and value, no id). */
  async entry(name: string, key: string): Promise<MapEntry> {
    checkKey(key);
    return this.find(await this.entries(name), name, key);
  }

  add(name: string, entry: MapEntry, sync: boolean): Promise<MapEntry> {
    const key = entry.key ?? '';
    const value = entry.value ?? '';
    checkKey(key);
    checkValue(value);
    return this.lock.run(async () => {
      const { file } = await this.get(name);
      if ((await this.show(file)).some((e) => e.key === key)) throw conflict(`key ${key} already exists in map ${name}`);
      await this.write(`add map ${file} ${key} ${value}`);
      if (sync) await this.sync(file);
      return { key, value };
    });
  }

  /**
   * Adds entries with the CLI's payload form, split into requests HAProxy's buffer holds. Like
   * dataplaneapi, keys already in the map are not checked: HAProxy then holds both entries.
   */
  addPayload(name: string, entries: readonly MapEntry[], sync: boolean): Promise<MapEntry[]> {
    const added = entries.map((e) => ({ key: e.key ?? '', value: e.value ?? '' }));
    for (const e of added) {
      checkKey(e.key);
      checkValue(e.value);
    }
    return this.lock.run(async () => {
      const { file } = await this.get(name);
      for (const chunk of chunkLines(added.map((e) => `${e.key} ${e.value}`), PAYLOAD_CHUNK_BYTES)) {
        await this.write(`add map ${file}`, chunk);
      }
      if (sync) await this.sync(file);
      return added;
    });
  }

  replace(name: string, key: string, value: string, sync: boolean): Promise<MapEntry> {
    checkKey(key);
    checkValue(value);
    return this.lock.run(async () => {
      const { file } = await this.get(name);
      this.find(await this.show(file), name, key);
      await this.write(`set map ${file} ${key} ${value}`);
      if (sync) await this.sync(file);
      return this.find(await this.show(file), name, key);
    });
  }

  delete(name: string, key: string, sync: boolean): Promise<void> {
    checkKey(key);
    return this.lock.run(async () => {
      const { file } = await this.get(name);
      this.find(await this.show(file), name, key);
      await this.write(`del map ${file} ${key}`);
      if (sync) await this.sync(file);
    });
  }

  /** Empties a map; `forceDelete` also deletes its file first, as client-native does (there is then nothing to sync). */
  clear(name: string, forceDelete: boolean, sync: boolean): Promise<void> {
    return this.lock.run(async () => {
      const { file } = await this.get(name);
      if (forceDelete) this.storage.delete(basename(file));
      await this.write(`clear map ${file}`);
      if (sync && !forceDelete) await this.sync(file);
    });
  }

  private show(file: string): Promise<MapEntry[]> {
    return this.read(`show map ${file}`, parseShowMapEntries);
  }

  private find(entries: readonly MapEntry[], name: string, key: string): MapEntry {
    const e = entries.find((x) => x.key === key);
    if (!e) throw notFound(`key ${key} does not exist in map ${name}`);
    return { key: e.key, value: e.value };
  }

  /** force_sync: the map's runtime contents replace its file at once. */
  private async sync(file: string): Promise<void> {
    writeFileAtomic(file, mapFileText(await this.show(file)));
  }
}

const clip = (s: string): string => (s.length > 64 ? `${s.slice(0, 64)}…` : s).replace(/[^\x20-\x7e]/g, '?');
