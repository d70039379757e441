import type { Principal } from '../auth/credentials';
import { Html, html } from './html';

const STYLE = `
:root { --fg:#1d2433; --muted:#5f6b7a; --line:#e3e7ee; --bg:#f6f8fb; --card:#fff; --accent:#2c5ee8;
  --ok:#1f8a4c; --warn:#b7791f; --bad:#c53030; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font-size:15px; line-height:1.45; }
header { background:#16203a; color:#fff; padding:0 24px; display:flex; align-items:center; gap:24px; height:52px; }
header .brand { font-weight:600; letter-spacing:.2px; }
header nav { display:flex; gap:18px; flex:1; }
header a { color:#c9d4f2; text-decoration:none; }
header a:hover, header a.active { color:#fff; }
header .who { color:#c9d4f2; font-size:13px; display:flex; gap:12px; align-items:center; }
header .who form { margin:0; }
header .who button { background:none; border:1px solid #51608a; color:#c9d4f2; border-radius:4px; padding:3px 10px; cursor:pointer; }
main { max-width:1120px; margin:0 auto; padding:24px; }
h1 { font-size:22px; margin:0 0 4px; }
h2 { font-size:16px; margin:28px 0 10px; }
.sub { color:var(--muted); margin:0 0 18px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(150px,1fr)); gap:12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
.card .value { font-size:22px; font-weight:600; margin-top:2px; font-variant-numeric:tabular-nums; }
.card.ok .value { color:var(--ok); } .card.warn .value { color:var(--warn); } .card.bad .value { color:var(--bad); }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:9px 12px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.4px; background:#fbfcfe; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tr:last-child td { border-bottom:none; }
a { color:var(--accent); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:13px; }
.bar { height:8px; background:var(--line); border-radius:4px; overflow:hidden; min-width:120px; }
.bar > span { display:block; height:100%; background:var(--ok); }
.bar > span.failed { background:var(--bad); }
.bar.big { height:12px; margin:8px 0 4px; display:flex; }
.pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; background:#eef2fb; color:#34508f; }
.pill.bad { background:#fdecec; color:var(--bad); } .pill.warn { background:#fdf4e3; color:var(--warn); }
.empty { color:var(--muted); padding:14px; background:var(--card); border:1px dashed var(--line); border-radius:8px; }
.login { max-width:360px; margin:80px auto; background:var(--card); border:1px solid var(--line); border-radius:10px; padding:28px; }
.login label { display:block; font-size:13px; color:var(--muted); margin:14px 0 4px; }
.login input { width:100%; padding:9px 10px; border:1px solid #c8cfdb; border-radius:6px; font-size:15px; }
.login button { margin-top:20px; width:100%; padding:10px; border:0; border-radius:6px; background:var(--accent); color:#fff; font-size:15px; cursor:pointer; }
.error { background:#fdecec; color:var(--bad); padding:8px 10px; border-radius:6px; margin-top:12px; font-size:14px; }
footer { color:var(--muted); font-size:12px; margin-top:32px; }
.banner { border-radius:8px; padding:12px 16px; margin:12px 0 18px; border:1px solid; }
.banner.bad { background:#fdecec; border-color:#f3b4b4; color:#8a1f1f; } .banner.warn { background:#fdf4e3; border-color:#f0d29a; color:#7a4f0c; }
.banner strong { display:block; font-size:16px; margin-bottom:2px; } .banner ul { margin:4px 0 0; padding-left:20px; }
.charts { display:grid; grid-template-columns:repeat(auto-fit,minmax(320px,1fr)); gap:12px; }
.chart-box { margin:0; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; min-width:0; }
.chart-box figcaption { font-weight:600; margin-bottom:6px; } .chart-box figcaption small { display:block; font-weight:400; color:var(--muted); }
.chart { min-height:220px; width:100%; overflow:hidden; }
@media (max-width:600px) { main { padding:14px; } header { padding:0 12px; gap:12px; } header .who span { display:none; }
  .table-wrap { overflow-x:auto; } }
`;

/** Extra files a page loads (all served by the dashboard itself). */
export interface PageAssets {
  styles: string[];
  scripts: string[];
}

export interface PageContext {
  principal?: Principal;
  boardPath: string;
  active?: 'runs' | 'board';
}

export function page(
  title: string,
  ctx: PageContext,
  body: Html,
  assets: PageAssets = { styles: [], scripts: [] },
): string {
  const who = ctx.principal
    ? html`<div class="who"><span>${ctx.principal.username} · ${ctx.principal.role}</span>
        <form method="post" action="/logout"><button type="submit">Sign out</button></form></div>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · MoneyKit migration</title>${assets.styles.map((href) => html`<link rel="stylesheet" href="${href}">`)}<style>${new Html(STYLE)}</style></head>
<body><header><span class="brand">MoneyKit migration</span>
<nav><a href="/runs" class="${ctx.active === 'runs' ? 'active' : ''}">Runs</a>
<a href="${ctx.boardPath}" class="${ctx.active === 'board' ? 'active' : ''}">Queues</a></nav>${who}</header>
<main>${body}</main>${assets.scripts.map((src) => html`<script src="${src}" defer></script>`)}</body></html>`.value;
}
