/**
 * The shell shared by report.html and history.html: one self-contained page (styles and script
 * inline, no external resource of any kind), dark mode that follows the system and can be toggled,
 * print CSS for the PDF, and filters by outcome and board. A Content-Security-Policy allows no
 * network request and only this page's own script (by hash), so even markup that got past escaping
 * could neither load anything nor run: escaping is the rule, the policy the second wall.
 */
import { createHash } from 'node:crypto';
import { esc, jsonForScript } from './escape.js';

const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#59636e;--card:#f6f8fa;--line:#d0d7de;
--pass:#1a7f37;--fail:#cf222e;--error:#9a6700;--skip:#6e7781;--running:#8250df;--band:rgba(26,127,55,.12);--tx:#0550ae;--rx:#1b1f24}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#161b22;--line:#30363d;
--pass:#3fb950;--fail:#f85149;--error:#d29922;--skip:#9198a1;--running:#a371f7;--band:rgba(63,185,80,.15);--tx:#79c0ff;--rx:#e6edf3}}
:root[data-theme=dark]{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#161b22;--line:#30363d;
--pass:#3fb950;--fail:#f85149;--error:#d29922;--skip:#9198a1;--running:#a371f7;--band:rgba(63,185,80,.15);--tx:#79c0ff;--rx:#e6edf3}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:16px 20px;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:22px 0 8px;border-bottom:1px solid var(--line)}h3{font-size:15px;margin:14px 0 6px}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-word;background:var(--card);border:1px solid var(--line);padding:8px;border-radius:4px;margin:6px 0}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
th{background:var(--card)}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;color:#fff;font-size:12px}
.o-PASS{--c:var(--pass)}.o-FAIL,.o-MARGINAL{--c:var(--fail)}.o-ERROR,.o-UNFINISHED{--c:var(--error)}.o-SKIP,.o-UNSET{--c:var(--skip)}.o-RUNNING{--c:var(--running)}
.badge{background:var(--c,var(--skip))}
.verdict{font-size:20px;padding:2px 14px}
.totals span{margin-right:14px}
.toolbar{display:flex;gap:14px;align-items:center;flex-wrap:wrap;margin:10px 0;padding:6px 10px;background:var(--card);border:1px solid var(--line);border-radius:6px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:10px}
.card{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--c,var(--line));border-radius:6px;padding:8px 10px}
.card dl{display:grid;grid-template-columns:auto 1fr;gap:1px 8px;margin:4px 0}.card dt{color:var(--muted)}.card dd{margin:0;word-break:break-all}
details{margin:6px 0}summary{cursor:pointer}
.scenario{border:1px solid var(--line);border-left:4px solid var(--c,var(--line));border-radius:6px;padding:4px 10px;margin:8px 0}
.timeline td.bar{width:220px}.timeline .span{display:block;height:10px;background:var(--c);border-radius:2px;min-width:2px}
.transcript{max-height:480px;overflow:auto;background:var(--card);border:1px solid var(--line);border-radius:4px;padding:4px 8px}
.transcript div{white-space:pre-wrap;word-break:break-all;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.transcript .tx{color:var(--tx)}.transcript .rx{color:var(--rx)}.transcript .mk{color:var(--muted);font-style:italic}
.transcript .t{color:var(--muted);margin-right:6px}.transcript .d{font-weight:700;margin-right:6px}
svg.chart{max-width:100%;height:auto;display:block;background:var(--bg)}
svg .band{fill:var(--band)}svg .limit{stroke:var(--pass);stroke-dasharray:4 3}svg .grid{stroke:var(--line);stroke-width:.5}
svg .zero{stroke:var(--muted);stroke-width:.7}svg text{fill:var(--muted);font-size:10px}svg .caption{font-size:10px}
svg .pt{stroke:var(--c);fill:var(--c)}svg .pt .bar{stroke-width:2}svg .pt .cap{stroke-width:1.5}
svg .marker line{stroke:var(--running);stroke-dasharray:2 2}svg .marker text{fill:var(--running)}
svg.strip rect{fill:var(--c)}svg .dense .bar{stroke-opacity:.35}svg .dense .cap{display:none}svg .dense circle{r:1.6px}
.signoff td:first-child{white-space:nowrap;color:var(--muted)}
.hide{display:none!important}
@page{size:A4;margin:14mm 12mm 16mm}
@media print{:root{--bg:#fff;--fg:#000;--card:#f6f8fa;--line:#bbb}body{max-width:none;padding:0;font-size:11px}
.toolbar,.noprint{display:none!important}.transcript{max-height:none}.card,.scenario,svg.chart,table{break-inside:avoid}
h2{break-after:avoid}.pagebreak{break-before:page}}
`;

/** Filters by outcome and board, and the theme toggle; no board data is read as markup. */
const SCRIPT = `(function(){
var root=document.documentElement;
try{var saved=localStorage.getItem('qhil-theme');if(saved==='dark'||saved==='light')root.setAttribute('data-theme',saved);}catch(e){}
var bar=document.getElementById('toolbar');if(bar)bar.hidden=false;
var theme=document.getElementById('theme');
if(theme)theme.addEventListener('click',function(){
var dark=root.getAttribute('data-theme')?root.getAttribute('data-theme')==='dark':matchMedia('(prefers-color-scheme: dark)').matches;
var next=dark?'light':'dark';root.setAttribute('data-theme',next);try{localStorage.setItem('qhil-theme',next);}catch(e){}});
function apply(){
var outcomes={};document.querySelectorAll('input[data-filter-outcome]').forEach(function(box){outcomes[box.getAttribute('data-filter-outcome')]=box.checked;});
var sel=document.getElementById('filter-board');var board=sel?sel.value:'';
document.querySelectorAll('[data-filterable]').forEach(function(el){
var o=el.getAttribute('data-outcome');var b=el.getAttribute('data-board');
var show=(o===null||outcomes[o]!==false)&&(board===''||b===null||b===board);
el.classList.toggle('hide',!show);});}
document.querySelectorAll('input[data-filter-outcome]').forEach(function(box){box.addEventListener('change',apply);});
var sel=document.getElementById('filter-board');if(sel)sel.addEventListener('change',apply);
})();`;

const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64');

/** The policy: nothing from the network, nothing but this page's own script, images only inline. */
export const CONTENT_SECURITY_POLICY = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${SCRIPT_HASH}'; base-uri 'none'; form-action 'none'`;

export interface FilterOptions {
  outcomes: string[];
  boards: string[];
}

/** The toolbar: hidden until the script runs, since without JS there is nothing to filter with. */
export function renderToolbar(filters: FilterOptions): string {
  const boxes = filters.outcomes
    .map((o) => `<label><input type="checkbox" checked data-filter-outcome="${esc(o)}"> ${esc(o)}</label>`)
    .join(' ');
  const boards =
    filters.boards.length > 1
      ? `<label>board <select id="filter-board"><option value="">all</option>${filters.boards
          .map((b) => `<option value="${esc(b)}">${esc(b, 80)}</option>`)
          .join('')}</select></label>`
      : '';
  return `<div class="toolbar" id="toolbar" hidden>${boxes ? `<span>show</span> ${boxes}` : ""} ${boards}<button type="button" id="theme" style="margin-left:auto">dark / light</button></div>`;
}

export interface PageOptions {
  title: string;
  body: string;
  /** Machine-readable data for scripts and tests, embedded as JSON (never as markup). */
  data?: unknown;
}

export function renderPage(options: PageOptions): string {
  const data = options.data === undefined ? '' : `<script type="application/json" id="qhil-data">${jsonForScript(options.data)}</script>\n`;
  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    `<meta http-equiv="Content-Security-Policy" content="${esc(CONTENT_SECURITY_POLICY)}">\n` +
    '<meta name="viewport" content="width=device-width,initial-scale=1">\n<meta name="color-scheme" content="light dark">\n' +
    `<title>${esc(options.title, 300)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n${options.body}\n${data}` +
    `<script>${SCRIPT}</script>\n</body>\n</html>\n`
  );
}

