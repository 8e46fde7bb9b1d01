// Request-parameter helpers shared by every module's routes.
import { Type } from '@sinclair/typebox';
import { Uuid } from './schema-types.js';

/** The path of a route about one user (`/…/users/:id`). */
export const UserParams = Type.Object({ id: Uuid });

/** Query strings arrive as text (the app does not coerce types): digits only; ranges are checked by the service. */
export const QueryInteger = Type.String({ pattern: '^[0-9]{1,15}$' });

export const queryNumber = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));
