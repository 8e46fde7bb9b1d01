// The one error type of the service. Domain code throws an AppError; the error plugin
// (src/plugins/errors.ts) is the only place that turns errors into HTTP replies.

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    /** FastAPI-shaped `detail`: a message, or an object such as {error: 'use_oauth_provider'}. */
    readonly detail: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
    this.name = 'AppError';
  }
}

export const badRequest = (detail: unknown): AppError => new AppError(400, detail);
export const forbidden = (detail: unknown = 'Not enough permissions'): AppError => new AppError(403, detail);
export const notFound = (detail: unknown = 'Not Found'): AppError => new AppError(404, detail);
export const conflict = (detail: unknown): AppError => new AppError(409, detail);
export const unauthorized = (detail: unknown, bearerChallenge = false): AppError =>
  new AppError(401, detail, bearerChallenge ? { 'WWW-Authenticate': 'Bearer' } : {});

/** A 422 in FastAPI's request-validation shape, for rules JSON schema cannot express. */
export const validationError = (loc: Array<string | number>, msg: string, type = 'value_error'): AppError =>
  new AppError(422, [{ loc, msg, type }]);

export const credentialsError = (): AppError => unauthorized('Could not validate credentials', true);
export const inactiveUser = (): AppError => forbidden('Inactive user');
