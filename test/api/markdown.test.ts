import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markdownBlock, markdownInline } from '../../src/api/html/markdown.js';
import { localizeExample } from '../../src/api/html/example-request.js';

test('descriptions are rendered Markdown: code, emphasis, lists, safe links', () => {
  assert.equal(markdownInline('the `tms` of the *pyramid*'), 'the <code>tms</code> of the <em>pyramid</em>');
  assert.match(markdownBlock('- one\n- two'), /<ul>\s*<li>one<\/li>\s*<li>two<\/li>\s*<\/ul>/);
  assert.match(markdownInline('[ROK4](https://rok4.github.io)'), /<a href="https:\/\/rok4\.github\.io">ROK4<\/a>/);
});

test('raw HTML, script URLs and images in a description stay inert', () => {
  const html = markdownBlock('<script>alert(1)</script> <img src=x onerror=alert(1)>');
  assert.doesNotMatch(html, /<script|<img/);
  assert.match(html, /&lt;script&gt;/);
  const inline = markdownBlock('a [x](javascript:alert(1)) and ![i](https://elsewhere.example/i.png) <b onclick=1>b</b>');
  assert.doesNotMatch(inline, /<a |<img|<b /);
  assert.match(inline, /a x and i &lt;b onclick=1&gt;b&lt;\/b&gt;/);
});

test('example hrefs outside the input roots move into the first root; others stay', () => {
  const example = {
    inputs: { images: [{ href: 'file:///data/inputs/scan.tif' }, { href: 'file:///srv/in/a b.tif' }, { href: 'https://h/x.tif' }] },
  };
  assert.deepEqual(localizeExample(example, ['/srv/in']), {
    inputs: { images: [{ href: 'file:///srv/in/scan.tif' }, { href: 'file:///srv/in/a b.tif' }, { href: 'https://h/x.tif' }] },
  });
  assert.equal(localizeExample(example, undefined), example);
});
