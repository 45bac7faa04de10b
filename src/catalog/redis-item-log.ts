/**
 * The catalogs' history in a Redis stream (issue 14: the items a worker on one machine adds are seen by
 * the servers of every machine). XADD gives every entry an id that orders it for all readers; XRANGE
 * with an exclusive start (Redis ≥ 6.2) reads what follows the position a machine reached.
 */
import type { Redis } from 'ioredis';
import type { ItemLog, ItemLogEntry } from './item-store.js';

export class RedisItemLog implements ItemLog {
  /**
   * @param redis a connection this log may use (not closed here).
   * @param key the stream's key (`<prefix>:catalog-items`).
   */
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  async append(entry: ItemLogEntry): Promise<string> {
    const id = await this.redis.xadd(this.key, '*', 'entry', JSON.stringify(entry));
    if (!id) throw new Error(`Redis did not add to the stream ${this.key}`);
    return id;
  }

  async readAfter(after: string, count: number): Promise<Array<[string, ItemLogEntry]>> {
    const rows = await this.redis.xrange(this.key, after === '0-0' ? '-' : `(${after}`, '+', 'COUNT', count);
    return rows.map(([id, fields]) => [id, JSON.parse(fields[fields.indexOf('entry') + 1]) as ItemLogEntry]);
  }
}
