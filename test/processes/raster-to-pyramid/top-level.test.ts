/**
 * The default top level is the coarsest level whose matrix still holds the images (issue 8): LAMB93_50cm's
 * upper matrices end at x = 1 048 576 m (levels 5 and 6), west of Corsica, where the synthetic map lies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRaster } from '../../../src/raster/geotiff-source.js';
import { loadTms } from '../../../src/raster/tms.js';
import { planPyramid, PlanError } from '../../../processes/raster-to-pyramid/plan.js';
import { execute, type TestServer } from '../../helpers/server.js';
import { assertProblem } from '../../api/problem-assert.js';
import { generate, makeInput, startPyramidServer } from '../../helpers/pyramids.js';

let s: TestServer;
let map: Awaited<ReturnType<typeof makeInput>>;
const slab = { tilesPerWidth: 2, tilesPerHeight: 2 };

before(async () => {
  s = await startPyramidServer();
  map = await makeInput(s, 'corsica.tif');
});

after(() => s?.stop());

test('plan: LAMB93_50cm over Corsica tops at level 7, PM still at level 0; a top that does not hold the images names the possible ones', async () => {
  const info = await describeRaster(map.path);
  const lamb93 = await loadTms('LAMB93_50cm', []);
  const lamb = planPyramid(lamb93, [info], { slab });
  assert.equal(lamb.levels.at(-1)!.tm.id, '7');
  assert.equal(lamb.levels[0].tm.id, '11');
  const pm = planPyramid(await loadTms('PM', []), [info], { slab });
  assert.equal(pm.levels.at(-1)!.tm.id, '0');
  assert.throws(
    () => planPyramid(lamb93, [info], { slab, top: '5' }),
    (err: unknown) => {
      assert.ok(err instanceof PlanError);
      assert.equal(err.input, 'top');
      assert.match(err.message, /possible top levels from bottom 11: 11, 10, 9, 8, 7$/);
      return true;
    },
  );
});

test('a LAMB93_50cm pyramid of Corsica with the default top is made; an explicit top 5 is a 400 naming the possible levels', async () => {
  const { record } = await generate(s, { images: [{ href: map.href }], name: 'CORSE_L93', tms: 'LAMB93_50cm', width: 2, height: 2 });
  const levels = ((record.type_infos as Record<string, unknown>).levels as Array<{ id: string }>).map((l) => l.id);
  assert.deepEqual(levels, ['7', '8', '9', '10', '11']);

  const res = await execute(
    s.url,
    'raster-to-pyramid',
    { inputs: { images: [{ href: map.href }], name: 'CORSE_TOP5', tms: 'LAMB93_50cm', top: '5' } },
    { Prefer: 'respond-async' },
  );
  const body = await assertProblem(res, 400);
  assert.match(body.detail as string, /top/);
  assert.match(body.detail as string, /possible top levels from bottom 11: 11, 10, 9, 8, 7/);
});
