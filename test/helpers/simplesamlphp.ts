// SimpleSAMLphp (Debian's `simplesamlphp` package) as a real SAML identity provider, served by
// `php -S` on loopback from a configuration written to a temporary directory: a hosted IdP with
// a fresh RSA key, username/password users (exampleauth), and Keyhold's SP registered after its
// connection exists. `signIn` plays the browser: it follows the AuthnRequest, posts the login
// form and returns the SAMLResponse the IdP's auto-submitting form carries.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from './certificate.js';
import { freePort } from './ports.js';

const WWW = '/usr/share/simplesamlphp/www';

/** Why SimpleSAMLphp cannot run here, or null when it can. */
export function simpleSamlPhpMissing(): string | null {
  if (!existsSync(WWW)) return 'SimpleSAMLphp is not installed (Debian package simplesamlphp; .ci/run installs it)';
  if (spawnSync('php', ['-v']).status !== 0) return 'php-cli is not installed (Debian package php-cli)';
  if (spawnSync('php', ['-r', 'exit(class_exists("DOMDocument") && function_exists("mb_strlen") ? 0 : 1);']).status !== 0) {
    return 'PHP lacks the dom or mbstring extension (Debian packages php-xml, php-mbstring)';
  }
  return null;
}

export interface SspUser {
  username: string;
  password: string;
  email: string;
  name: string;
}

const php = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export class SimpleSamlPhp {
  private constructor(
    readonly origin: string,
    private readonly dir: string,
    private readonly server: ChildProcess,
    readonly log: string[],
  ) {}

  get entityId(): string {
    return `${this.origin}/saml2/idp/metadata.php`;
  }

  static async start(users: SspUser[]): Promise<SimpleSamlPhp> {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const dir = await mkdtemp(join(tmpdir(), 'keyhold-ssp-'));
    for (const sub of ['config', 'metadata', 'cert', 'log', 'data', 'tmp', 'sessions']) await mkdir(join(dir, sub));
    const { key, cert } = selfSignedCertificate({ commonName: 'SimpleSAMLphp test IdP', keyType: 'rsa', days: 2 });
    await writeFile(join(dir, 'cert', 'server.pem'), key);
    await writeFile(join(dir, 'cert', 'server.crt'), cert);
    await writeFile(join(dir, 'config', 'config.php'), `<?php
$config = [
  'baseurlpath' => ${php(`${origin}/`)},
  'certdir' => ${php(`${dir}/cert/`)},
  'loggingdir' => ${php(`${dir}/log/`)},
  'datadir' => ${php(`${dir}/data/`)},
  'tempdir' => ${php(`${dir}/tmp`)},
  'secretsalt' => ${php(randomBytes(16).toString('hex'))},
  'auth.adminpassword' => ${php(randomBytes(16).toString('hex'))},
  'technicalcontact_name' => 'Keyhold tests',
  'technicalcontact_email' => 'tests@keyhold.test',
  'timezone' => 'UTC',
  'logging.level' => SimpleSAML\\Logger::WARNING,
  'logging.handler' => 'stderr',
  'enable.saml20-idp' => true,
  'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => true],
  'store.type' => 'phpsession',
  'session.phpsession.savepath' => ${php(`${dir}/sessions`)},
  'session.cookie.secure' => false,
  'language.available' => ['en'],
  'metadata.sources' => [['type' => 'flatfile', 'directory' => ${php(`${dir}/metadata`)}]],
];
`);
    const userEntries = users
      .map((u) => `    ${php(`${u.username}:${u.password}`)} => ['uid' => [${php(u.username)}], 'email' => [${php(u.email)}], 'displayName' => [${php(u.name)}]],`)
      .join('\n');
    await writeFile(join(dir, 'config', 'authsources.php'), `<?php
$config = [
  'admin' => ['core:AdminPassword'],
  'example-userpass' => [
    'exampleauth:UserPass',
${userEntries}
  ],
];
`);
    await writeFile(join(dir, 'metadata', 'saml20-idp-hosted.php'), `<?php
$metadata[${php(`${origin}/saml2/idp/metadata.php`)}] = [
  'host' => '__DEFAULT__',
  'privatekey' => 'server.pem',
  'certificate' => 'server.crt',
  'auth' => 'example-userpass',
  'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
];
`);
    await writeFile(join(dir, 'metadata', 'saml20-sp-remote.php'), '<?php\n');
    const log: string[] = [];
    // No opcode cache: registerSp rewrites a metadata file that must be read afresh at once
    // (a cache that revalidates every 2 s served the previous SPs now and then).
    const server = spawn('php', ['-d', 'opcache.enable=0', '-d', 'opcache.enable_cli=0', '-S', `127.0.0.1:${port}`, '-t', WWW], {
      env: { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: join(dir, 'config') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (chunk) => log.push(String(chunk)));
    server.stderr!.on('data', (chunk) => log.push(String(chunk)));
    const ssp = new SimpleSamlPhp(origin, dir, server, log);
    for (let i = 0; i < 100; i++) {
      try {
        const probe = await fetch(`${origin}/saml2/idp/metadata.php`);
        if (probe.ok) return ssp;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await ssp.close();
    throw new Error(`SimpleSAMLphp did not start: ${log.join('').slice(-2000)}`);
  }

  async metadata(): Promise<string> {
    const response = await fetch(`${this.origin}/saml2/idp/metadata.php`);
    if (!response.ok) throw new Error(`metadata: ${response.status}`);
    return response.text();
  }

  /** Registers Keyhold's SPs, replacing those before (SimpleSAMLphp reads its metadata files on every request). */
  async registerSp(sps: Array<{ entityId: string; acsUrl: string; encryptTo?: string }>): Promise<void> {
    // encryptTo: the SP's certificate (base64 DER): the IdP then encrypts its assertions to it.
    const entries = sps.map((sp) => `$metadata[${php(sp.entityId)}] = [
  'AssertionConsumerService' => ${php(sp.acsUrl)},${sp.encryptTo ? `
  'assertion.encryption' => true,
  'certData' => ${php(sp.encryptTo)},` : ''}
  'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  'simplesaml.nameidattribute' => 'uid',
  'saml20.sign.assertion' => true,
  'saml20.sign.response' => true,
  'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
  'authproc' => [90 => ['class' => 'saml:PersistentNameID', 'attribute' => 'uid']],
];`).join('\n');
    await writeFile(join(this.dir, 'metadata', 'saml20-sp-remote.php'), `<?php\n${entries}\n`);
  }

  /**
   * The browser at the IdP: from Keyhold's authorization URL to the SAMLResponse (base64) that
   * the IdP's page posts to the ACS, with the ACS URL it posts to.
   */
  async signIn(authorizationUrl: string, username: string, password: string): Promise<{ acsUrl: string; samlResponse: string; relayState: string | null }> {
    const cookies = new Map<string, string>();
    const go = async (url: string, init: RequestInit = {}): Promise<{ url: string; body: string }> => {
      let current = url;
      let request = init;
      for (let hops = 0; hops < 10; hops++) {
        const response = await fetch(current, {
          ...request,
          redirect: 'manual',
          headers: { ...(request.headers as Record<string, string>), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
        });
        for (const line of response.headers.getSetCookie()) {
          const [pair] = line.split(';');
          const eq = pair!.indexOf('=');
          cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
        }
        const location = response.headers.get('location');
        if (response.status >= 300 && response.status < 400 && location) {
          current = new URL(location, current).href;
          request = {};
          continue;
        }
        return { url: current, body: await response.text() };
      }
      throw new Error('too many redirects at the IdP');
    };
    const login = await go(authorizationUrl);
    const authState = /name="AuthState"\s+value="([^"]+)"/.exec(login.body)?.[1];
    if (!authState) throw new Error(`no login form at the IdP: ${login.body.slice(0, 500)}\n${this.log.join('').slice(-1500)}`);
    const loginUrl = new URL(/<form[^>]+action="([^"]*)"/.exec(login.body)?.[1]?.replace(/&amp;/g, '&') || login.url, login.url).href;
    const posted = await go(loginUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username, password, AuthState: decodeHtml(authState) }).toString(),
    });
    const samlResponse = /name="SAMLResponse"\s+value="([^"]+)"/.exec(posted.body)?.[1];
    const acsUrl = /<form[^>]+action="([^"]+)"/.exec(posted.body)?.[1];
    if (!samlResponse || !acsUrl) throw new Error(`no SAMLResponse from the IdP: ${posted.body.slice(0, 800)}\n${this.log.join('').slice(-1500)}`);
    const relayState = /name="RelayState"\s+value="([^"]*)"/.exec(posted.body)?.[1] ?? null;
    return { acsUrl: decodeHtml(acsUrl), samlResponse: decodeHtml(samlResponse), relayState: relayState && decodeHtml(relayState) };
  }

  async close(): Promise<void> {
    if (this.server.exitCode === null) {
      const exited = new Promise((resolve) => this.server.once('exit', resolve));
      this.server.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

const decodeHtml = (value: string): string =>
  value.replace(/&quot;/g, '"').replace(/&#0?39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#x2F;/g, '/').replace(/&amp;/g, '&');
