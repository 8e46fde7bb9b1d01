import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';

// Placeholder: routes land with their issue.
export const passwordRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async () => {};
