import { html, type Html } from '../html.js';
import type { T } from '../i18n/index.js';

export function loginForm(csrf: string, error: string | null, t: T): Html {
  return html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/login" class="login">
<input type="hidden" name="_csrf" value="${csrf}">
<label>${t('login.account')}<input name="name" autocomplete="username" required maxlength="64"></label>
<label>${t('login.password')}<input name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
<button type="submit">${t('login.submit')}</button></form>`;
}
