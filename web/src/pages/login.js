import { api, errText } from '../api.js';
import { h, replace } from '../dom.js';
import { t, setLang, lang } from '../i18n.js';

export function mount(el, ctx) {
  document.title = `${t('login.title')} · ${t('app.name')}`;
  const msg = h('div', { class: ['form-msg', ctx.flash && 'info'], id: 'login-msg', role: 'status' }, ctx.flash ? t(ctx.flash) : '');
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { class: 'btn primary block', type: 'submit', id: 'login-submit' }, t('login.submit'));
  const form = h('form', {
    class: 'login-form',
    onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      submit.textContent = t('login.busy');
      msg.className = 'form-msg';
      msg.textContent = '';
      try {
        const res = await api('/api/v1/auth/login', { method: 'POST', body: { username: user.value.trim(), password: pass.value } });
        // The scope (halls a user is limited to) comes with /auth/me only.
        const me = await api('/api/v1/auth/me').catch(() => ({}));
        ctx.onLogin({ username: res.username || user.value.trim(), role: res.role, expires: res.expires, scope: me.scope || [] });
      } catch (err) {
        msg.className = 'form-msg error';
        msg.textContent = err.status === 401 ? t('login.bad') : t('login.failed', { msg: errText(err) });
        submit.disabled = false;
        submit.textContent = t('login.submit');
        pass.select();
      }
    },
  },
  h('label', {}, t('login.username'), user),
  h('label', {}, t('login.password'), pass),
  msg, submit);
  replace(el,
    h('div', { class: 'login-page' },
      h('div', { class: 'login-card' },
        h('div', { class: 'login-head' },
          h('span', { class: 'brand-sun big' }),
          h('div', {}, h('h1', {}, t('app.name')), h('p', { class: 'muted' }, t('login.subtitle'))),
          h('button', { class: 'btn ghost small lang-toggle', type: 'button', onclick: () => setLang(lang() === 'zh' ? 'en' : 'zh') }, t('lang.switch'))),
        form,
        h('div', { class: 'login-foot' }, t('login.publicLinks'),
          h('a', { href: '#/public/case' }, t('pub.case')), ' · ',
          h('a', { href: '#/public/items' }, t('pub.items'))))));
}
