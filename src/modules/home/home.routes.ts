// GET /: what this server is and where to go from here (the API reference, the hosted pages
// when they are on, health). JSON for programs; a plain page of links for a browser.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { VERSION } from '../../version.js';

const Landing = Type.Object({
  name: Type.String(),
  version: Type.String(),
  description: Type.String(),
  links: Type.Record(Type.String(), Type.String(), { description: 'What each link is, by name: docs, openapi, health, ready, jwks, api, and pages when the hosted pages are on.' }),
});

export interface HomeOptions {
  apiPrefix: string;
  hostedUiEnabled: boolean;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const homeRoutes: FastifyPluginAsyncTypebox<HomeOptions> = async (app, options) => {
  const landing = {
    name: 'Keyhold',
    version: VERSION,
    description: 'Self-hostable authentication and account service for multi-tenant SaaS products.',
    links: {
      docs: '/docs',
      openapi: '/openapi.json',
      health: '/healthz',
      ready: '/readyz',
      jwks: '/.well-known/jwks.json',
      api: options.apiPrefix || '/',
      ...(options.hostedUiEnabled ? { pages: '/ui/sign-in' } : {}),
    },
  };
  const labels: Record<string, string> = {
    docs: 'API reference (Swagger UI)',
    openapi: 'OpenAPI document',
    pages: 'Hosted sign-in pages',
    health: 'Liveness',
    ready: 'Readiness',
    jwks: 'Public signing keys (JWKS)',
    api: 'API prefix',
  };
  const page = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Keyhold</title></head><body>',
    `<h1>Keyhold ${escapeHtml(VERSION)}</h1><p>${escapeHtml(landing.description)}</p><ul>`,
    ...Object.entries(landing.links).map(([name, href]) => `<li><a href="${escapeHtml(href)}">${escapeHtml(labels[name] ?? name)}</a> <code>${escapeHtml(href)}</code></li>`),
    '</ul></body></html>',
  ].join('\n');

  app.get(
    '/',
    { schema: { tags: ['health'], summary: 'What this server is, and links to the API reference, the hosted pages and health', response: { 200: { content: { 'application/json': { schema: Landing }, 'text/html': { schema: Type.String() } } } } } },
    async (request, reply) => {
      // A browser asks for HTML; anything else (curl, programs) gets the JSON.
      if (/\btext\/html\b/.test(request.headers.accept ?? '')) {
        return reply.type('text/html; charset=utf-8').send(page);
      }
      return landing;
    },
  );
};
