import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';

// Placeholder: /auth/email/* lands with issue 3.
export const emailVerificationRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async () => {};
