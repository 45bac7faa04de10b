/**
 * Configurations and offerings (issue 10, "The publication model"): what a layer is made of, and what
 * the tile services serve now. The services read a {@link LayerRegistry}; this module is the only one
 * that changes it, from offering records, so that what is served always has a record saying so (and
 * is served again after a restart).
 */
import { randomUUID } from 'node:crypto';
import { ApiError, invalidInput } from '../errors.js';
import type { Logger } from '../log.js';
import { locationOfRecord } from '../pyramid/location.js';
import { CATALOG_TYPE } from '../catalog/catalog.js';
import type { CatalogItemStore } from '../catalog/item-store.js';
import { PYRAMID_TYPE } from '../records/pyramid-infos.js';
import { CONFIGURATIONS, OFFERINGS, type Configuration, type Offering } from '../records/publication.js';
import type { Collection, RecordPage, RecordStore } from '../records/record-store.js';
import type { Datastore } from '../records/stored-data.js';
import type { LayerRegistry } from '../services/layer-registry.js';
import { openCatalogLayer } from '../services/catalog-layer.js';
import { openLayer, type LayerSpec, type PublishedLayer } from '../services/layer.js';
import { type NamedStorages, storageNameOf } from '../storage/of-record.js';
import type { Storage } from '../storage/storage.js';
import { checkConfigurationBody, type ConfigurationBody } from './configuration-body.js';

export interface PublisherDeps {
  records: RecordStore;
  datastore: Datastore;
  /** The default storage. */
  storage: Storage;
  /** Every configured storage (issue 13): a layer reads its pyramids from the storage their records name. */
  named?: NamedStorages;
  layers: LayerRegistry;
  tmsFolders: string[];
  log: Logger;
  /** Items of raster catalogs: a catalog's layer renders its tiles from them (catalog-layer.ts). */
  catalogItems: CatalogItemStore;
}

export interface ConfigurationFilter {
  name?: string;
  layer_name?: string;
  type?: string;
  status?: string;
}

export class Publisher {
  private readonly configurations: Collection<Configuration>;
  private readonly offerings: Collection<Offering>;

  constructor(private readonly deps: PublisherDeps) {
    this.configurations = deps.records.collection(CONFIGURATIONS);
    this.offerings = deps.records.collection(OFFERINGS);
  }

  /**
   * Serves every published offering again (start-up). One that cannot be opened (its pyramid's files
   * were removed behind our back) is logged and left out; the others are served.
   */
  async restore(): Promise<number> {
    let served = 0;
    for (const offering of (await this.offerings.list()).items) {
      try {
        this.deps.layers.publish(await this.openServed(offering.layer_name, offering.served));
        served++;
      } catch (err) {
        this.deps.log.error('a published layer cannot be served', {
          offering: offering._id,
          layer: offering.layer_name,
          error: String(err),
        });
      }
    }
    return served;
  }

  // Configurations

  async listConfigurations(filter: ConfigurationFilter, offset: number, limit: number): Promise<RecordPage<Configuration>> {
    return this.configurations.list({
      where: (c) =>
        (filter.name === undefined || c.name === filter.name) &&
        (filter.layer_name === undefined || c.layer_name === filter.layer_name) &&
        (filter.type === undefined || c.type === filter.type) &&
        (filter.status === undefined || c.status === filter.status),
      offset,
      limit,
    });
  }

  async getConfiguration(id: string): Promise<Configuration> {
    const c = await this.configurations.get(id);
    if (!c) throw new ApiError('not-found', `no configuration with id '${id}'`);
    return c;
  }

  /** POST /configurations: a 400 naming the field for a bad body or unusable stored data, 409 for a layer name taken. */
  async createConfiguration(raw: unknown): Promise<Configuration> {
    const body = checkConfigurationBody(raw);
    const releaseName = await this.deps.records.locks.reserve('layer_name', body.layer_name);
    if (!releaseName) throw new ApiError('conflict', `layer_name '${body.layer_name}' is being created by another request`);
    try {
      if (await this.configurations.find((c) => c.layer_name === body.layer_name)) {
        throw new ApiError('conflict', `a configuration with layer_name '${body.layer_name}' exists (layer names are unique)`);
      }
      return await this.withUsedData(body.layer_name, servedPart(body.type_infos), async (use) => {
        const now = new Date().toISOString();
        return this.configurations.create({
          _id: randomUUID(),
          type: body.type,
          name: body.name,
          layer_name: body.layer_name,
          metadata: body.metadata ?? [],
          type_infos: body.type_infos,
          ...(body.getfeatureinfo ? { getfeatureinfo: body.getfeatureinfo } : {}),
          ...(body.attribution ? { attribution: body.attribution } : {}),
          status: 'UNPUBLISHED',
          use,
          created: now,
          updated: now,
        });
      });
    } finally {
      releaseName();
    }
  }

  /**
   * PUT /configurations/{id}: replaces it (its layer_name cannot change). An offering keeps serving what
   * it served until it is synchronized (PUT /offerings/{id}).
   */
  async replaceConfiguration(id: string, raw: unknown): Promise<Configuration> {
    const current = await this.getConfiguration(id);
    const body = checkConfigurationBody(raw);
    if (body.layer_name !== current.layer_name) {
      throw invalidInput(
        'layer_name',
        `a configuration's layer_name never changes ('${current.layer_name}'); create another configuration`,
      );
    }
    return this.withUsedData(body.layer_name, servedPart(body.type_infos), async (use) => {
      const updated = await this.configurations.update(id, {
        type: body.type,
        name: body.name,
        metadata: body.metadata ?? [],
        type_infos: body.type_infos,
        getfeatureinfo: body.getfeatureinfo,
        use,
        updated: new Date().toISOString(),
      });
      if (!updated) throw new ApiError('not-found', `no configuration with id '${id}'`);
      return updated;
    });
  }

  /** DELETE /configurations/{id}: 409 while an offering publishes it. */
  async deleteConfiguration(id: string): Promise<void> {
    const c = await this.getConfiguration(id);
    const offering = await this.offerings.find((o) => o.configuration === id);
    if (offering) {
      throw new ApiError('conflict', `configuration '${c.name}' is published by offering '${offering._id}'; delete the offering first`);
    }
    await this.configurations.delete(id);
  }

  /** Configurations that use a stored data (its `used_by`, and why it cannot be deleted). */
  async configurationsUsing(storedDataId: string): Promise<Configuration[]> {
    return (await this.configurations.list({ where: (c) => c.use.includes(storedDataId) })).items;
  }

  // Offerings

  async listOfferings(filter: { layer_name?: string; type?: string }, offset: number, limit: number): Promise<RecordPage<Offering>> {
    return this.offerings.list({
      where: (o) =>
        (filter.layer_name === undefined || o.layer_name === filter.layer_name) && (filter.type === undefined || o.type === filter.type),
      offset,
      limit,
    });
  }

  async getOffering(id: string): Promise<Offering> {
    const o = await this.offerings.get(id);
    if (!o) throw new ApiError('not-found', `no offering with id '${id}'`);
    return o;
  }

  /** The offering of a configuration, if it is published. */
  offeringOf(configurationId: string): Promise<Offering | undefined> {
    return this.offerings.find((o) => o.configuration === configurationId);
  }

  /** POST /configurations/{id}/offerings: publishes it; 409 when it is already published. */
  async publish(configurationId: string, raw: unknown): Promise<Offering> {
    const open = checkOfferingBody(raw);
    const c = await this.getConfiguration(configurationId);
    const release = await this.deps.records.locks.reserve('offering', c._id);
    if (!release) throw new ApiError('conflict', `configuration '${c._id}' is being published by another request`);
    try {
      const existing = await this.offeringOf(c._id);
      if (existing) throw new ApiError('conflict', `configuration '${c.name}' is already published by offering '${existing._id}'`);
      const served = snapshot(c);
      const layer = await this.withUsedData(c.layer_name, served, async (_use, opened) => opened);
      const now = new Date().toISOString();
      const offering = await this.offerings.create({
        _id: randomUUID(),
        configuration: c._id,
        layer_name: c.layer_name,
        type: c.type,
        open,
        status: 'PUBLISHED',
        served,
        created: now,
        updated: now,
      });
      // Served only once its record is durable: what the services serve always has a record.
      this.deps.layers.publish(layer);
      await this.configurations.update(c._id, { status: 'PUBLISHED', updated: now });
      return offering;
    } finally {
      release();
    }
  }

  /**
   * PUT /offerings/{id}: the services serve what the configuration says now. The new layer replaces the
   * old one in one step: requests in flight finish on the old pyramids, the next ones read the new.
   */
  async synchronize(id: string): Promise<Offering> {
    const offering = await this.getOffering(id);
    const c = await this.getConfiguration(offering.configuration);
    const served = snapshot(c);
    const layer = await this.withUsedData(c.layer_name, served, async (_use, opened) => opened);
    const updated = await this.offerings.update(id, { served, updated: new Date().toISOString() });
    if (!updated) throw new ApiError('not-found', `no offering with id '${id}'`);
    this.deps.layers.publish(layer);
    return updated;
  }

  /** DELETE /offerings/{id}: the services stop serving the layer at once. */
  async unpublish(id: string): Promise<void> {
    const offering = await this.getOffering(id);
    await this.offerings.delete(id);
    this.deps.layers.unpublish(offering.layer_name);
    await this.configurations.update(offering.configuration, { status: 'UNPUBLISHED', updated: new Date().toISOString() });
  }

  /** The layer an offering serves: its snapshot of the configuration, over the stored data records. */
  private async openServed(layerName: string, served: Offering['served']): Promise<PublishedLayer> {
    const pyramids = [];
    const named = this.deps.named ?? { storages: new Map([['default', this.deps.storage]]), defaultStorage: 'default' };
    const first = served.used_data[0] && (await this.deps.datastore.get(served.used_data[0].stored_data));
    if (first?.type === CATALOG_TYPE) {
      const spec: LayerSpec = { name: layerName, title: served.title, abstract: served.abstract, keywords: served.keywords, pyramids: [] };
      const u = served.used_data[0];
      const storage = named.storages.get(storageNameOf(first, named));
      if (!storage) throw invalidInput('type_infos.used_data[0].stored_data', `storage '${storageNameOf(first, named)}' is not configured`);
      return openCatalogLayer(spec, first, u, this.deps.catalogItems, storage, this.deps.tmsFolders, 'type_infos.used_data[0]');
    }
    let on: string | undefined;
    for (const [i, u] of served.used_data.entries()) {
      const at = `type_infos.used_data[${i}].stored_data`;
      const record = await this.deps.datastore.get(u.stored_data);
      if (!record) throw invalidInput(at, `no stored data '${u.stored_data}'`);
      // One layer reads one storage (its services keep one storage open per layer).
      const name = storageNameOf(record, named);
      if (on !== undefined && name !== on)
        throw invalidInput(
          at,
          `'${record.name}' is on storage '${name}', the layer's other pyramids on '${on}': a layer's pyramids live on one storage`,
        );
      on = name;
      pyramids.push({ ...locationOfRecord(record), bottom_level: u.bottom_level, top_level: u.top_level });
    }
    const storage = named.storages.get(on ?? named.defaultStorage);
    if (!storage) throw invalidInput('type_infos.used_data', `storage '${on}' is not configured`);
    const spec: LayerSpec = { name: layerName, title: served.title, abstract: served.abstract, keywords: served.keywords, pyramids };
    return openLayer(spec, storage, this.deps.tmsFolders, 'type_infos.used_data');
  }

  /**
   * Runs `fn` with the used stored data checked (exist, READY, pyramids) and held against deletion, so
   * that none disappears between the check and the record that then protects it (its `use`). `fn` gets
   * the layer opened for the check: publishing serves that one instead of reading the descriptors again.
   */
  private async withUsedData<T>(
    layerName: string,
    served: Offering['served'],
    fn: (use: string[], layer: PublishedLayer) => Promise<T>,
  ): Promise<T> {
    const used = served.used_data;
    const ids = [...new Set(used.map((u) => u.stored_data))];
    const release = await this.deps.datastore.lockForRead(ids);
    try {
      for (const [i, u] of used.entries()) {
        const field = `type_infos.used_data[${i}].stored_data`;
        const record = await this.deps.datastore.get(u.stored_data);
        if (!record || record.status === 'DELETED') throw invalidInput(field, `no stored data '${u.stored_data}'`);
        // A catalog is a layer of its own (catalog-layer.ts): alone in used_data.
        if (record.type === CATALOG_TYPE && used.length > 1)
          throw invalidInput(field, `catalog '${record.name}' is a layer of its own: it must be the only entry of used_data`);
        if (record.type !== PYRAMID_TYPE && record.type !== CATALOG_TYPE)
          throw invalidInput(field, `stored data '${record.name}' is a ${record.type}, not a raster pyramid nor a raster catalog`);
        if (record.status !== 'READY')
          throw invalidInput(field, `stored data '${record.name}' is ${record.status}; only READY stored data are published`);
        if (record.type === PYRAMID_TYPE) {
          for (const key of ['tile_matrix_set', 'format'] as const) {
            if (u[key] !== undefined)
              throw invalidInput(`type_infos.used_data[${i}].${key}`, `only a catalog's layer takes ${key}: a pyramid has its own`);
          }
        }
      }
      // Opening the layer checks what the records cannot: same TMS and format, levels that exist, disjoint ranges.
      return await fn(ids, await this.openServed(layerName, served));
    } finally {
      release();
    }
  }
}

/** What an offering serves of a configuration, frozen until the next synchronize. */
function snapshot(c: Configuration): Offering['served'] {
  return servedPart(c.type_infos);
}

/** The served part of a configuration's type_infos. */
function servedPart(t: Configuration['type_infos']): Offering['served'] {
  return { used_data: t.used_data, title: t.title, abstract: t.abstract, keywords: t.keywords, synchronized: new Date().toISOString() };
}

/** The body of POST /configurations/{id}/offerings: `{"open": true}` (the platform's shape); open is all we keep. */
function checkOfferingBody(raw: unknown): boolean {
  if (raw === undefined || raw === null) return true;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ApiError('invalid-body', 'the offering body must be an object such as {"open": true}');
  const open = (raw as { open?: unknown }).open;
  if (open !== undefined && typeof open !== 'boolean') throw invalidInput('open', 'must be true or false');
  return open ?? true;
}

export type { ConfigurationBody };
