// Input that must never pose as something else or crash a route: control and bidi characters
// in free text (and in the emails that show it), bodies the API cannot read, and errors the
// router raises before any route runs.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { accountInviteMessage } from '../src/modules/email/templates.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, registerUser, signIn, uniqueEmail, type SignedInUser } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';

const CONTROL_ISSUE = { msg: 'String must not contain control characters, line breaks or bidirectional overrides', type: 'string_control_characters' };

/** One of each class refused in free text; NUL has its own earlier check (input-guard). */
const REFUSED: Record<string, string> = {
  CR: '\r', LF: '\n', 'CR LF': '\r\n', TAB: '\t', ESC: '\u001b', DEL: '\u007f', 'NEL (C1)': '\u0085', 'CSI (C1)': '\u009b',
  'line separator': '\u2028', 'paragraph separator': '\u2029', LRE: '\u202a', RLO: '\u202e', LRI: '\u2066', PDI: '\u2069',
};
const INJECTED_NAME = 'Acme\r\n\r\nSECURITY ALERT: your account is locked, sign in at http://evil.example\u202e';

for (const kind of DATABASE_KINDS) {
  describe(`input hardening (${kind})`, () => {
    let t: TestApp;
    let user: SignedInUser;
    let adminToken: string;

    before(async () => {
      t = await startTestApp(kind);
      user = await registerAndSignIn(t.api, { name: 'Ivy Invites' });
      const adminEmail = uniqueEmail('admin');
      await ensureAdmin(t.app.ctx, { email: adminEmail, password: PASSWORD, name: 'Ada Admin' });
      adminToken = (await signIn(t.api, adminEmail)).accessToken;
    });
    after(() => t.close());

    const storedUser = () => t.app.ctx.db.selectFrom('users').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow();

    it('refuses control, line-break and bidi-override characters in names at registration (422)', async () => {
      const names = { 'the reported injection': INJECTED_NAME, ...Object.fromEntries(Object.entries(REFUSED).map(([label, c]) => [label, `Acme${c}Corp`])) };
      for (const [label, name] of Object.entries(names)) {
        const response = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name });
        assert.deepEqual([response.status, response.body], [422, { detail: [{ loc: ['body', 'name'], ...CONTROL_ISSUE }], code: 'validation_failed' }], label);
      }
    });

    it('refuses them in every free-text profile field, and changes nothing', async () => {
      const before = await storedUser();
      for (const field of ['name', 'phone', 'job_title', 'timezone']) {
        for (const [label, character] of Object.entries(REFUSED)) {
          const response = await t.api.patch('/auth/me', { [field]: `a${character}b` }, user.accessToken);
          assert.deepEqual([response.status, response.body], [422, { detail: [{ loc: ['body', field], ...CONTROL_ISSUE }], code: 'validation_failed' }], `${field}: ${label}`);
        }
      }
      assert.deepEqual(await storedUser(), before);
    });

    it('still accepts what people write: accents, other scripts, emoji, directional marks', async () => {
      const name = 'Zoë Ångström-李 \u200fעברית\u200e 🚀';
      const response = await t.api.patch('/auth/me', { name, job_title: 'Chief “Quotes” & <Tags>', timezone: 'Europe/Zürich', phone: '+1 (555) 010-0000' }, user.accessToken);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.name, name);
      const registered = await registerUser(t.api, { name: 'María José O’Brien' });
      assert.equal(registered.user.name, 'María José O’Brien');
    });

    it('does not restrict passwords: a tab or a line break in one is the user’s business', async () => {
      const password = 'tab\there\nnewline\u202e-and-more';
      const { email } = await registerUser(t.api, { password });
      const tokens = await signIn(t.api, email, password);
      assert.ok(tokens.accessToken);
      const form = await t.api.request('POST', '/auth/login', { form: { username: email, password } });
      assert.equal(form.status, 200, JSON.stringify(form.body));
    });

    it('refuses them in emails and in the admin search, setting key and audit filter', async () => {
      const register = await t.api.post('/auth/register', { email: 'a\u202e@example.com', password: PASSWORD, name: 'X' });
      assert.equal(register.status, 422);
      assert.deepEqual(register.body.detail[0].loc, ['body', 'email']);
      const search = await t.api.get(`/admin/users?q=${encodeURIComponent('a\nb')}`, adminToken);
      assert.deepEqual([search.status, search.body], [422, { detail: [{ loc: ['query', 'q'], ...CONTROL_ISSUE }], code: 'validation_failed' }]);
      const audit = await t.api.get(`/admin/audit-logs?action=${encodeURIComponent('auth.login\r\n')}`, adminToken);
      assert.deepEqual([audit.status, audit.body], [422, { detail: [{ loc: ['query', 'action'], ...CONTROL_ISSUE }], code: 'validation_failed' }]);
      const setting = await t.api.put(`/admin/settings/${encodeURIComponent('key\u202e')}`, { value: true }, adminToken);
      assert.deepEqual([setting.status, setting.body], [422, { detail: [{ loc: ['path', 'key'], ...CONTROL_ISSUE }], code: 'validation_failed' }]);
    });

    it('shows an account name stored before the rule labelled, quoted, on one line, and never in the Subject', async () => {
      // Rows written before the rule (or names from an OAuth provider) may still hold anything.
      await t.app.ctx.db.updateTable('accounts').set({ name: `${INJECTED_NAME} <b>bold</b>` })
        .where('id', '=', (await storedUser()).account_id).execute();
      const email = uniqueEmail('invitee');
      const created = await t.api.post('/accounts/me/invites', { email, role: 'member' }, user.accessToken);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const [mail] = await queuedEmails(t.app.ctx.db, { to: email });
      assert.ok(mail, 'the invite email was queued');

      assert.equal(mail.subject, 'You are invited to join an account');
      const lines = mail.text!.split('\n');
      assert.ok(lines.every((line) => !line.startsWith('SECURITY ALERT')), 'no line of the name’s own');
      const nameLine = lines.find((line) => line.includes('SECURITY ALERT'));
      assert.equal(nameLine, 'Account name, as its owner entered it: “Acme SECURITY ALERT: your account is locked, sign in at http://evil.example <b>bold</b>”');
      assert.doesNotMatch(mail.text! + mail.html!, /[\r\u202e]/u);
      assert.ok(mail.html!.includes('&lt;b&gt;bold&lt;/b&gt;') && !mail.html!.includes('<b>'), 'escaped in HTML');
    });

    it('answers multipart and other unreadable bodies on sign-in, refresh and the profile with a 4xx, logging no stack', async () => {
      const logsBefore = t.logs.length;
      const profile = async () => {
        const { name, phone, job_title, timezone, email } = await storedUser();
        return { name, phone, job_title, timezone, email };
      };
      const profileBefore = await profile();
      const routes: Array<[string, string, string | undefined]> = [
        ['POST', '/auth/login', undefined], ['POST', '/auth/register', undefined], ['POST', '/auth/refresh', undefined],
        ['PATCH', '/auth/me', user.accessToken],
      ];
      const noBoundary = { 'content-type': 'multipart/form-data' };
      const longBoundary = { 'content-type': `multipart/form-data; boundary=${'b'.repeat(300)}` };
      for (const [method, path, token] of routes) {
        const readsMultipart = path === '/auth/login';
        for (const headers of [noBoundary, longBoundary]) {
          const response = await t.api.request(method, path, { raw: 'x', headers, token });
          const expected = readsMultipart
            ? [422, { detail: [{ loc: ['body'], msg: 'Multipart form decode error', type: 'multipart_invalid' }], code: 'validation_failed' }]
            : [415, { detail: 'Unsupported media type', code: 'unsupported_media_type' }];
          assert.deepEqual([response.status, response.body], expected, `${method} ${path} ${headers['content-type'].slice(0, 40)}`);
        }
        // A well-formed multipart body is still refused where the route reads JSON only.
        const form = new FormData();
        form.set('username', user.email);
        form.set('password', 'wrong password');
        form.set('refresh_token', 'x');
        form.set('name', 'Multipart Name');
        const response = await fetch(`${t.api.base}${path}`, { method, body: form, headers: token ? { authorization: `Bearer ${token}` } : {} });
        const expectedStatus = readsMultipart ? 401 : 415;
        assert.equal(response.status, expectedStatus, `${method} ${path} multipart`);
      }
      assert.deepEqual(await profile(), profileBefore, 'the profile was not changed by a multipart body');
      // The control: the OAuth2 password form still signs in as multipart.
      const signInForm = new FormData();
      signInForm.set('username', user.email);
      signInForm.set('password', PASSWORD);
      signInForm.set('grant_type', 'password');
      const signedIn = await fetch(`${t.api.base}/auth/login`, { method: 'POST', body: signInForm });
      assert.equal(signedIn.status, 200);
      const logged = t.logs.slice(logsBefore).join('');
      assert.doesNotMatch(logged, /"level":(50|60)|unhandled error|"stack"/);
    });

    it('answers errors the router raises itself in the contract shape, echoing nothing', async () => {
      const raw = async (path: string, method = 'GET', token?: string) => {
        const response = await fetch(`${t.baseUrl}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
        return { status: response.status, text: await response.text() };
      };
      const badPath = await raw('/api/v1/auth/%E0%A4%A');
      assert.deepEqual([badPath.status, JSON.parse(badPath.text)], [400, { detail: 'Bad Request', code: 'bad_request' }]);
      const badParam = await raw('/api/v1/accounts/me/invites/%E0%A4%A', 'DELETE', user.accessToken);
      assert.deepEqual([badParam.status, JSON.parse(badParam.text)], [400, { detail: 'Bad Request', code: 'bad_request' }]);
      const longParam = await raw(`/api/v1/accounts/me/invites/${'a'.repeat(101)}`, 'DELETE', user.accessToken);
      assert.deepEqual([longParam.status, JSON.parse(longParam.text)], [414, { detail: 'URI Too Long', code: 'bad_request' }]);
      const longAnonymous = await raw(`/api/v1/accounts/me/invites/${'%41'.repeat(200)}`, 'DELETE');
      assert.deepEqual([longAnonymous.status, JSON.parse(longAnonymous.text)], [414, { detail: 'URI Too Long', code: 'bad_request' }]);
      // A query string's bad escapes are kept as text by the parser: an ordinary answer.
      const badQuery = await raw('/api/v1/admin/users?q=%E0%A4%A&limit=%ZZ', 'GET', adminToken);
      assert.equal(badQuery.status, 422);
      assert.deepEqual(JSON.parse(badQuery.text).detail.map((issue: { loc: unknown }) => issue.loc), [['query', 'limit']]);
      const badQueryKey = await raw('/api/v1/admin/users?%E0%A4%A=1&q=%C0', 'GET', adminToken);
      assert.equal(badQueryKey.status, 200);
      for (const { text } of [badPath, badParam, longParam, badQuery]) {
        assert.doesNotMatch(text, /%E0|%ZZ|aaaa|FST_|statusCode|invites/, 'no part of the request echoed');
      }
    });

    it('answers requests Node’s HTTP parser refuses in the contract shape', async () => {
      const { hostname, port } = new URL(t.baseUrl);
      const reply = await new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const socket = connect(Number(port), hostname, () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: \u0001\r\n\r\n'));
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      });
      assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.equal(reply.slice(reply.indexOf('\r\n\r\n') + 4), '{"detail":"Bad Request","code":"bad_request"}');
    });
  });
}

describe('invitation email template', () => {
  it('keeps someone else’s text on one labelled, quoted line; HTML-escaped; never in the Subject', () => {
    const message = accountInviteMessage('http://frontend.test', 'x@example.com', { accountName: `${INJECTED_NAME}”\u2028<script>x</script>\u0085tail`, code: 'CODE' });
    assert.equal(message.subject, 'You are invited to join an account');
    assert.doesNotMatch(message.subject, /[\r\n]/);
    const nameLines = message.text.split('\n').filter((line) => line.includes('Acme'));
    assert.deepEqual(nameLines, [
      'Account name, as its owner entered it: “Acme SECURITY ALERT: your account is locked, sign in at http://evil.example " <script>x</script> tail”',
    ]);
    assert.ok(message.html.includes('&lt;script&gt;x&lt;/script&gt;') && !message.html.includes('<script>'));
    assert.doesNotMatch(message.text + message.html, /[\r\u0085\u2028\u202e]/u);
  });
});
