// Fastify's schema compilers, deferred to each route's first request (see below).
import { createRequire } from 'node:module';
import type { ValidatorFactory } from '@fastify/ajv-compiler';
import type { SerializerFactory } from '@fastify/fast-json-stringify-compiler';

const requireCjs = createRequire(import.meta.url);

/**
 * Route schemas are compiled on each route's first request instead of at start: compiling every
 * route's validators (Ajv) and reply serializers (fast-json-stringify) was the largest part of
 * start-up time and idle memory, for routes a given instance may seldom or never serve. The
 * compilers are Fastify's defaults with the options Fastify gives them; only the moment
 * differs. A schema that does not compile fails its route's first request (a logged 500 naming
 * the route) rather than the start; the test suites exercise every route.
 * (A custom validator factory also means Fastify leaves `headers` schemas as written: write
 * their property names in lower case. No route has one today.)
 */
export function lazySchemaCompilers(): { buildValidator: ValidatorFactory; buildSerializer: SerializerFactory } {
  type AjvCompilerModule = () => ValidatorFactory;
  type SerializerModule = () => SerializerFactory;
  // One of each per app, as Fastify makes them (Ajv instances are pooled per selector).
  let validatorSelector: ValidatorFactory | undefined;
  let serializerSelector: SerializerFactory | undefined;
  const buildValidator: ValidatorFactory = (externalSchemas, ajvOptions) => {
    let compilerOf: ReturnType<ValidatorFactory> | undefined;
    return (route) => {
      let compiled: ReturnType<ReturnType<ValidatorFactory>> | undefined;
      const compile = (): NonNullable<typeof compiled> => {
        if (compiled) return compiled;
        validatorSelector ??= (requireCjs('@fastify/ajv-compiler') as AjvCompilerModule)();
        compilerOf ??= validatorSelector(externalSchemas, ajvOptions);
        try {
          compiled = compilerOf(route);
        } catch (err) {
          throw new Error(`Failed building the validation schema for ${route.method}: ${route.url}, due to error ${(err as Error).message}`);
        }
        return compiled;
      };
      const validate = function (this: unknown, data: unknown, dataContext?: unknown) {
        const ajvValidate = compile();
        const valid = (ajvValidate as (this: unknown, data: unknown, dataContext?: unknown) => unknown).call(this, data, dataContext);
        validate.errors = ajvValidate.errors;
        return valid;
      } as ((this: unknown, data: unknown, dataContext?: unknown) => unknown) & { errors?: unknown };
      // Fastify reads schemaEnv just before it validates, to let Ajv change the root value.
      Object.defineProperty(validate, 'schemaEnv', { get: () => compile().schemaEnv });
      return validate as unknown as NonNullable<typeof compiled>;
    };
  };
  const buildSerializer: SerializerFactory = (externalSchemas, serializerOptions) => {
    let compilerOf: ReturnType<SerializerFactory> | undefined;
    return (route) => {
      let serialize: ((doc: unknown) => string) | undefined;
      return (doc: unknown) => {
        if (!serialize) {
          serializerSelector ??= (requireCjs('@fastify/fast-json-stringify-compiler') as SerializerModule)();
          compilerOf ??= serializerSelector(externalSchemas, serializerOptions);
          try {
            serialize = compilerOf(route);
          } catch (err) {
            const { method, url } = route as { method?: string; url?: string };
            throw new Error(`Failed building the serialization schema for ${method}: ${url}, due to error ${(err as Error).message}`);
          }
        }
        return serialize(doc);
      };
    };
  };
  return { buildValidator, buildSerializer };
}
