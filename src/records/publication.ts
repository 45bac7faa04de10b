import type { RecordKind } from './record-store.js';

/**
 * The publication model of the platform we imitate (issue 10): a configuration says what a layer is
 * made of; an offering publishes it through the tile services. Shapes as in the Entrepôt's API.
 */

/** One pyramid of a layer and the levels it serves (`bottom_level` finest, `top_level` coarsest). */
export interface UsedData {
  stored_data: string;
  bottom_level?: string;
  top_level?: string;
  /** A catalog's layer (issue 12): its tile matrix set (default PM) and tile format (default png). */
  tile_matrix_set?: string;
  format?: 'png' | 'jpeg';
}

export interface Configuration {
  _id: string;
  /** Only `WMTS-TMS` today: one published layer served by every tile service and the WMS. */
  type: 'WMTS-TMS';
  name: string;
  /** Unique among configurations; never changes (it is the layer's name in every service). */
  layer_name: string;
  metadata: unknown[];
  type_infos: {
    title: string;
    abstract?: string;
    keywords?: string[];
    used_data: UsedData[];
  };
  getfeatureinfo?: { stored_data?: boolean };
  attribution?: Record<string, unknown>;
  status: 'UNPUBLISHED' | 'PUBLISHED';
  /** The stored data it uses (ids): their deletion is refused while the configuration exists. */
  use: string[];
  created: string;
  updated: string;
}

export type OfferingType = 'WMTS-TMS';

export interface Offering {
  _id: string;
  configuration: string;
  layer_name: string;
  type: OfferingType;
  open: boolean;
  status: 'PUBLISHED';
  /** What the services serve: the configuration as it was at the last publish or synchronize. */
  served: { used_data: UsedData[]; title: string; abstract?: string; keywords?: string[]; synchronized: string };
  created: string;
  updated: string;
}

export const CONFIGURATIONS: RecordKind<Configuration> = {
  name: 'configurations',
  file: 'configurations.json',
  idField: '_id',
  required: {
    _id: 'string',
    type: 'string',
    name: 'string',
    layer_name: 'string',
    type_infos: 'object',
    status: 'string',
    use: 'array',
    created: 'string',
    updated: 'string',
  },
};

export const OFFERINGS: RecordKind<Offering> = {
  name: 'offerings',
  file: 'offerings.json',
  idField: '_id',
  required: {
    _id: 'string',
    configuration: 'string',
    layer_name: 'string',
    type: 'string',
    status: 'string',
    served: 'object',
    created: 'string',
    updated: 'string',
  },
};
