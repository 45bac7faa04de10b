// Helper process of item-store.test.ts: adds items to catalog 'A' of an item store file, one job's
// commit per item, as another writer would while the test's other adders write too.
import { CatalogItemStore } from '../../src/catalog/item-store.js';
import { item } from './test-item.js';

const [file, prefix, count] = process.argv.slice(2);
const store = new CatalogItemStore(file);
for (let i = 0; i < Number(count); i++) {
  const folder = `catalogs/a/${prefix}-${i}`;
  store.beginWrite({ catalogId: 'A', folder, jobId: `${prefix}-${i}` });
  const x = (i % 90) * 2 - 90;
  await store.commit('A', folder, [item(`${prefix}-${i}`, [x, 0, x + 1, 1])]);
  // Yield between commits so the adders interleave.
  await new Promise((r) => setImmediate(r));
}
store.close();
