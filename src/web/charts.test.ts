import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, legend, LABEL_CHARS, shorten, wrap, type BarRow } from './charts.js';
import { href } from './html.js';

// The SVG charts on their own: shapes in percent of the width, every bar a
// link with a tooltip, numbers in text, and hostile values as text.

const HOSTILE = '"><script>alert(1)</script><a href="x';

function rects(svg: string): { x: number; width: number; fill: string }[] {
  return [...svg.matchAll(/<rect x="([\d.]+)%" y="\d+" width="([\d.]+)%" height="\d+" fill="([^"]+)" stroke/g)].map((m) => ({ x: Number(m[1]), width: Number(m[2]), fill: m[3]! }));
}

test('a stacked bar per row: segments in percent of the largest row, each a link with a title, the count inside where it fits', () => {
  const rows: BarRow[] = [
    { label: 'Fri 4 Dec', note: '100', segments: [
      { tone: 'delivered', value: 60, href: '/search?domain=a.test&outcome=delivered', title: '60 delivered' },
      { tone: 'rejected', value: 39, href: '/search?domain=a.test&outcome=rejected', title: '39 refused' },
      { tone: 'tempfailed', value: 1, href: null, title: '1 temporarily refused' },
    ] },
    { label: 'Thu 3 Dec', note: '50', segments: [{ tone: 'delivered', value: 50, href: '/search?x=1', title: '50 delivered' }] },
    { label: 'Wed 2 Dec', note: '0', segments: [] },
  ];
  const svg = barChart(rows, { id: 'days', label: 'Messages per day' }).s;
  assert.match(svg, /^<svg class="ov-chart" width="100%" height="\d+" aria-label="Messages per day">/);
  // No viewBox: texts keep their size whatever the width; no style attributes (the CSP allows none).
  assert.doesNotMatch(svg, /viewBox|style=/);
  const r = rects(svg);
  assert.deepEqual(r.map((x) => [x.x, x.width]), [[0, 60], [60, 39], [99, 1], [0, 50]]);
  assert.equal(r[1]!.fill, '#c62828');
  assert.equal(r[2]!.fill, 'url(#days-tempfailed)', 'temporary refusals are striped');
  assert.match(svg, /<pattern id="days-tempfailed"/);
  // Linked segments are <a href> with a <title>; an unlinked one has its title too.
  assert.match(svg, /<a href="\/search\?domain=a\.test&amp;outcome=rejected" class="ov-bar ov-rejected"><title>39 refused<\/title><rect/);
  assert.match(svg, /<g class="ov-bar ov-tempfailed"><title>1 temporarily refused<\/title>/);
  // Numbers in text: inside the wide segments, not in the 1% one; and each row's total.
  assert.match(svg, />60<\/text>/);
  assert.match(svg, />39<\/text>/);
  assert.doesNotMatch(svg, /text-anchor="middle"[^>]*>1<\/text>/);
  for (const n of ['100', '50', '0']) assert.match(svg, new RegExp(`font-weight="bold">${n}</text>`));
  // An empty row still has its track.
  assert.equal((svg.match(/width="100%" height="18" fill="#eee"/g) ?? []).length, 3);
});

test('a tiny count stays visible, and a fixed scale makes charts compare', () => {
  const svg = barChart([{ label: 'x', note: '1', segments: [{ tone: 'rejected', value: 1, href: null, title: 't' }] }], { id: 'c', label: 'l', scale: 10000 }).s;
  assert.deepEqual(rects(svg).map((r) => r.width), [0.6]);
  const half = barChart([{ label: 'x', note: '5', segments: [{ tone: 'rejected', value: 5, href: null, title: 't' }] }], { id: 'c', label: 'l', scale: 10 }).s;
  assert.deepEqual(rects(half).map((r) => r.width), [50]);
});

test('hostile labels, titles and links are text, in elements and attributes alike', () => {
  const svg = barChart([{
    label: HOSTILE, href: href('/overview', { domain: HOSTILE }), title: HOSTILE, sub: HOSTILE, note: HOSTILE,
    segments: [{ tone: 'delivered', value: 3, href: href('/search', { domain: HOSTILE, outcome: 'delivered' }), title: HOSTILE }],
  }], { id: '"><x', label: HOSTILE }).s;
  assert.doesNotMatch(svg, /<script|<a href="x|<x/);
  assert.match(svg, /&lt;script&gt;/);
  assert.match(svg, /aria-label="&quot;&gt;&lt;script&gt;/);
  // Links carry the value percent-encoded.
  assert.match(svg, /href="\/search\?domain=%22%3E%3Cscript%3Ealert\(1\)%3C%2Fscript%3E%3Ca%20href%3D%22x&amp;outcome=delivered"/);
  // The id is cut to safe characters before it names the pattern.
  assert.match(svg, /<pattern id="---x-tempfailed"/);
  const key = legend([{ tone: 'rejected', text: HOSTILE }], HOSTILE).s;
  assert.doesNotMatch(key, /<script|<a href="x/);
});

test('labels: wrapped at spaces onto three lines at most, long words shortened', () => {
  assert.deepEqual(wrap('Delivered'), ['Delivered']);
  const de = 'Vorübergehend abgewiesen; der Server des Absenders sollte es erneut versuchen';
  const lines = wrap(de);
  assert.deepEqual(lines, ['Vorübergehend abgewiesen; der', 'Server des Absenders sollte es erneut', 'versuchen']);
  assert.deepEqual(wrap('a '.repeat(80)).length, 3);
  assert.match(wrap('a '.repeat(80))[2]!, /…$/, 'the third line ends the label');
  assert.deepEqual(wrap('sehr-lange-domain-eines-kunden-mit-vielen-bindestrichen.example'), [shorten('sehr-lange-domain-eines-kunden-mit-vielen-bindestrichen.example')]);
  assert.equal([...shorten('x'.repeat(100))].length, LABEL_CHARS);
  const svg = barChart([{ label: de, note: '3', segments: [] }], { id: 'w', label: 'l' }).s;
  assert.equal((svg.match(/<tspan /g) ?? []).length, lines.length);
  assert.doesNotMatch(svg, /<title>/, 'wrapped whole: nothing to add in a tooltip');
  const cut = barChart([{ label: 'a '.repeat(80).trim(), note: '3', segments: [] }], { id: 'w', label: 'l' }).s;
  assert.match(cut, /<title>(a ){79}a<\/title>/, 'shortened: the full text in the tooltip');
});
