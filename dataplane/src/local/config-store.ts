import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emptyModel, type VersionedConfig } from './model.js';
import { renderConfig, type RenderOptions } from './render.js';

/** Writes a file so that readers see either the old or the new content, never a torn one. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * The current configuration (state.json, rendered to haproxy.cfg) and the last known good one
 * (lkg.json, the configuration of the last successful reload), both persisted in the work directory.
 */
export class ConfigStore {
  readonly configFile: string;
  private readonly stateFile: string;
  private readonly lkgFile: string;
  private cur: VersionedConfig;
  private good: VersionedConfig;

  constructor(readonly workdir: string, private readonly render: Omit<RenderOptions, 'version'>) {
    mkdirSync(workdir, { recursive: true });
    this.configFile = join(workdir, 'haproxy.cfg');
    this.stateFile = join(workdir, 'state.json');
    this.lkgFile = join(workdir, 'lkg.json');
    this.cur = existsSync(this.stateFile) ? readJson(this.stateFile) : { version: 1, model: emptyModel() };
    this.good = existsSync(this.lkgFile) ? readJson(this.lkgFile) : structuredClone(this.cur);
    this.persist();
  }

  get current(): VersionedConfig {
    return this.cur;
  }

  get lastKnownGood(): VersionedConfig {
    return this.good;
  }

  renderText(doc: VersionedConfig): string {
    return renderConfig(doc.model, { ...this.render, version: doc.version });
  }

  /** Replaces the current configuration and rewrites haproxy.cfg. */
  replace(doc: VersionedConfig): void {
    this.cur = structuredClone(doc);
    this.persist();
  }

  markGood(doc: VersionedConfig): void {
    this.good = structuredClone(doc);
    writeFileAtomic(this.lkgFile, JSON.stringify(this.good));
  }

  /** Puts the last known good configuration back on disk, as dataplaneapi does after a failed reload. */
  restoreGood(): void {
    this.replace(this.good);
  }

  private persist(): void {
    writeFileAtomic(this.stateFile, JSON.stringify(this.cur));
    writeFileAtomic(this.configFile, this.renderText(this.cur));
  }
}

function readJson(path: string): VersionedConfig {
  return JSON.parse(readFileSync(path, 'utf8')) as VersionedConfig;
}
