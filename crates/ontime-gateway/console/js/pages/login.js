// Sign in with an API token: checked against the API before it is kept (in this tab only).

import { h, replace } from '../dom.js';
import { probe, session } from '../api.js';
import { errorBox } from '../ui.js';

export async function render(view) {
  view.title('Sign in');
  const { app } = view;
  if (app.access === 'open') {
    // Nothing to sign in to: the API takes no token.
    app.signedIn('open');
    return;
  }
  const errors = h('div', { class: 'errors' });
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false', placeholder: 'ot_… or the operator\'s admin token',
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'login card', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title', tabindex: '-1' }, 'Sign in to ontime'),
    h('p', {}, 'This API needs a token. It is sent as ', h('code', {}, 'Authorization: Bearer …'),
      ' with every request, and kept in this tab only: closing the tab forgets it.'),
    app.reason ? h('p', { class: 'notice', role: 'status' }, app.reason) : null,
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), input),
    errors,
    h('div', { class: 'form-actions' }, submit),
    h('p', { class: 'hint' }, 'Tokens are made with ', h('code', {}, 'POST /v1/tokens'),
      ' (see the ', h('a', { href: '/docs/', target: '_blank', rel: 'noopener' }, 'API docs'),
      '), or are the operator\'s ', h('code', {}, 'ONTIME_ADMIN_TOKEN'), '.'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(errors);
    submit.disabled = true;
    session.signIn(input.value.trim());
    try {
      await probe();
      app.signedIn('token');
    } catch (e) {
      session.signOut();
      replace(errors, errorBox(e, { title: e.status === 401 ? 'This token was refused' : 'Could not sign in' }));
      input.select();
    } finally {
      submit.disabled = false;
    }
  });
  replace(view.main, h('div', { class: 'login-wrap' }, form));
  input.focus();
}
