// The one stylesheet. Phone first in spirit: nothing may be wider than the
// screen at 390 px (tables of journeys and events become cards below 50em),
// and addresses wrap at "@" and dots (views/format.ts addr) before anywhere else.
import { OVERVIEW_CSS } from '../overview-view.js';

const BASE_CSS = `
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font-family: system-ui, sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; line-height: 1.45; }
a { color: #1a4f8b; }
header { background: #1f3347; color: #fff; padding: .5em 1em; display: flex; flex-wrap: wrap; gap: .4em 1em; align-items: center; }
header a { color: #fff; }
header .brand { font-weight: bold; text-decoration: none; margin-right: .5em; }
header nav { display: flex; flex-wrap: wrap; gap: .3em 1em; }
header .who { margin-left: auto; font-size: .9em; }
header .lang { font-size: .9em; }
button.link { background: none; border: 0; color: inherit; text-decoration: underline; cursor: pointer; font: inherit; padding: 0; }
main { padding: 1em 2em 3em; max-width: 90em; }
h1 { font-size: 1.5em; margin: .3em 0 .6em; overflow-wrap: break-word; }
h2 { font-size: 1.15em; margin: 1.4em 0 .5em; }
h3 { font-size: 1em; margin: .8em 0 .3em; }
form.inline { display: inline; }
form.find { display: flex; flex-wrap: wrap; gap: .5em; align-items: center; margin: 0 0 1em; }
form.find label { display: flex; flex-wrap: wrap; gap: .3em .6em; align-items: center; flex: 1 1 20em; }
form.find input { flex: 1 1 14em; min-width: 0; }
form.search { display: grid; grid-template-columns: repeat(auto-fill, minmax(14em, 1fr)); gap: .5em 1em; margin-bottom: 1em; align-items: end; }
form.search label, form.login label { display: flex; flex-direction: column; font-size: .9em; }
form.search details { grid-column: 1 / -1; }
form.search details > div { display: grid; grid-template-columns: repeat(auto-fill, minmax(14em, 1fr)); gap: .5em 1em; margin-top: .5em; }
form.login { display: flex; flex-direction: column; gap: .5em; max-width: 20em; }
input, select, button { font: inherit; padding: .35em .5em; max-width: 100%; }
button { cursor: pointer; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; background: #fff; }
th, td { border: 1px solid #d5d9de; padding: .35em .5em; text-align: left; vertical-align: top; font-size: .92em; }
th { background: #eef1f4; }
td.text, pre, .addr { overflow-wrap: break-word; word-break: normal; }
td.text, pre { white-space: pre-wrap; }
pre { font-size: .85em; max-width: 100%; overflow-wrap: anywhere; }
code { overflow-wrap: anywhere; }
.badge { display: inline-block; padding: .05em .5em; border-radius: .8em; font-weight: 600; font-size: .9em; white-space: nowrap; }
.tone-ok { background: #dcf1e0; color: #0b5a1c; }
.tone-bad { background: #fbe0e0; color: #8a1111; }
.tone-warn { background: #fdefd3; color: #7a4a00; }
.tone-neutral { background: #e7e9ec; color: #39424c; }
.notice { border-left: 4px solid #b7791f; background: #fff8e6; padding: .5em 1em; margin: .5em 0; }
.verdict { background: #fff; border: 1px solid #d5d9de; border-left: 6px solid #8a96a3; padding: .7em 1em; margin: .4em 0 1em; }
.verdict.tone-bad { border-left-color: #b42318; background: #fff; color: inherit; }
.verdict.tone-ok { border-left-color: #1e7b34; background: #fff; color: inherit; }
.verdict.tone-warn { border-left-color: #b7791f; background: #fff; color: inherit; }
.verdict .headline { font-size: 1.12em; font-weight: 600; margin: 0; }
.finding { border-left: 4px solid #3d5a78; background: #fff; padding: .5em 1em; margin: .6em 0; }
.finding.side-sender { border-color: #b42318; }
.finding.side-recipient { border-color: #b7791f; }
.finding .side { font-size: .85em; color: #5b6670; }
.finding p { margin: .3em 0; }
p.evidence-title { margin: .5em 0 0; font-size: .88em; color: #5b6670; }
dl.evidence { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: .3em 0; }
dl.evidence dt { color: #5b6670; }
dl.evidence dd { margin: 0; overflow-wrap: anywhere; }
.error { color: #a00; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.muted { color: #5b6670; }
.chips { display: flex; flex-wrap: wrap; gap: .4em; margin: .5em 0; padding: 0; list-style: none; }
.chips a, .chips span { display: inline-block; padding: .15em .7em; border: 1px solid #c5ccd3; border-radius: 1em; background: #fff; text-decoration: none; color: inherit; font-size: .9em; }
.chips .on { background: #1f3347; color: #fff; border-color: #1f3347; }
.actions { display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: center; margin: .5em 0; }
details.raw summary { cursor: pointer; color: #5b6670; font-size: .85em; }
table.list td.when { white-space: nowrap; }
table.list .cause { color: #39424c; }
table.list tr.row-bad td:first-child { box-shadow: inset 4px 0 #b42318; }
table.list tr.row-ok td:first-child { box-shadow: inset 4px 0 #1e7b34; }
table.list tr.row-warn td:first-child { box-shadow: inset 4px 0 #b7791f; }
.recheck { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.recheck > section { background: #fff; border: 1px solid #d5d9de; padding: .5em 1em; min-width: 0; }
@media (max-width: 50em) {
  main { padding: .8em .8em 2em; }
  .columns, .recheck { grid-template-columns: 1fr; }
  table.cards, table.cards tbody, table.cards tr, table.cards td { display: block; width: 100%; }
  table.cards thead { display: none; }
  table.cards { background: none; }
  table.cards tr { background: #fff; border: 1px solid #d5d9de; margin: 0 0 .6em; padding: .3em .2em; }
  table.cards td { border: 0; padding: .15em .6em; }
  table.cards td[data-label]::before { content: attr(data-label) ": "; color: #5b6670; font-size: .85em; }
  table.list tr.row-bad { border-left: 5px solid #b42318; }
  table.list tr.row-ok { border-left: 5px solid #1e7b34; }
  table.list tr.row-warn { border-left: 5px solid #b7791f; }
  table.list tr[class^="row-"] td:first-child { box-shadow: none; }
  dl.evidence { grid-template-columns: 1fr; }
  td.text, .addr, pre, table.facts td { overflow-wrap: anywhere; }
  table.cards td:empty { display: none; }
  dl.evidence dd { margin-bottom: .3em; }
  header .who { margin-left: 0; }
}
`;

export const CSS = BASE_CSS + OVERVIEW_CSS;
