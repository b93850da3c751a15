import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { badRequest, conflict, notFound } from './api-error.js';
import { writeFileAtomic } from './config-store.js';
import type { MapFile } from './model.js';

// Map files on disk, in the maps directory (dataplaneapi's maps_dir): what /storage/maps lists,
// uploads, replaces and deletes. HAProxy reads them when it loads a configuration that names them.

/** A file name that needs no quoting in haproxy.cfg or on the CLI and cannot leave the directory. */
export const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/;

/** The path of a stored file of `dir` by its name, the name checked first (`what` names the kind in the refusal). */
export function storedPath(dir: string, name: string, what: string): string {
  if (!FILE_NAME.test(name)) {
    throw badRequest(`invalid ${what} name '${clip(name)}': use letters, digits, '.', '_' and '-', not starting with '.'`);
  }
  return join(dir, name);
}

export class MapStorage {
  /** Absolute, as the paths HAProxy reports for the maps it loaded. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    mkdirSync(this.dir, { recursive: true });
  }

  /** The path of a stored file by its name, the name checked first. */
  path(name: string): string {
    return storedPath(this.dir, name, 'map file');
  }

  /** A runtime map's `{name}`: the file in the maps directory, `.map` appended when missing (as client-native). */
  mapPath(name: string): string {
    return this.path(extname(name) === '.map' ? name : `${name}.map`);
  }

  list(): MapFile[] {
    return readdirSync(this.dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort()
      .map((name) => ({ description: 'managed map file', file: join(this.dir, name), storage_name: name }));
  }

  /** Stores an uploaded file under its upload name (`.map` appended when missing); 409 if it exists. */
  create(uploadName: string, data: Buffer): MapFile {
    const name = uploadName.endsWith('.map') ? uploadName : `${uploadName}.map`;
    const file = this.path(name);
    if (existsSync(file)) throw conflict(`file ${file} already exists`);
    writeFileAtomic(file, data);
    return { description: 'managed but not loaded map file (no runtime ID)', file, storage_name: name, size: data.length };
  }

  read(name: string): Buffer {
    return readFileSync(this.existing(name));
  }

  replace(name: string, text: string): void {
    writeFileAtomic(this.existing(name), text);
  }

  delete(name: string): void {
    rmSync(this.existing(name));
  }

  /** The path of a stored file; 404 when there is none. */
  existing(name: string): string {
    const file = this.path(name);
    if (!existsSync(file)) throw notFound(`file ${name} doesn't exist in dir: ${this.dir}`);
    return file;
  }
}

const clip = (s: string): string => (s.length > 64 ? `${s.slice(0, 64)}…` : s).replace(/[^\x20-\x7e]/g, '?');
