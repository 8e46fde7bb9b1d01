// Request-parameter helpers shared by the account and admin routes.
import { Type } from '@sinclair/typebox';

/** Query strings arrive as text (the app does not coerce types): digits only; ranges are checked by the service. */
export const QueryInteger = Type.String({ pattern: '^[0-9]{1,15}$' });

export const queryNumber = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));
