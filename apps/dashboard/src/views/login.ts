import { html } from './html';

export function loginPage(opts: { next: string; error?: string }): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · MoneyKit migration</title>
<style>body{margin:0;background:#f6f8fb;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2433}
.login{max-width:360px;margin:80px auto;background:#fff;border:1px solid #e3e7ee;border-radius:10px;padding:28px}
h1{font-size:20px;margin:0 0 4px}p{color:#5f6b7a;margin:0 0 8px;font-size:14px}
label{display:block;font-size:13px;color:#5f6b7a;margin:14px 0 4px}
input{width:100%;box-sizing:border-box;padding:9px 10px;border:1px solid #c8cfdb;border-radius:6px;font-size:15px}
button{margin-top:20px;width:100%;padding:10px;border:0;border-radius:6px;background:#2c5ee8;color:#fff;font-size:15px;cursor:pointer}
.error{background:#fdecec;color:#c53030;padding:8px 10px;border-radius:6px;margin-top:12px;font-size:14px}</style></head>
<body><form class="login" method="post" action="/login">
<h1>MoneyKit migration</h1><p>Sign in to the operations dashboard.</p>
${opts.error ? html`<div class="error" role="alert">${opts.error}</div>` : ''}
<input type="hidden" name="next" value="${opts.next}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>`.value;
}
