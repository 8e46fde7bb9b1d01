/** A reply Keyhold refused: its HTTP status, the stable `code` clients switch on, and the
 *  contract's `detail` (a message or an object such as `{error: "sso_required"}`). */
export class KeyholdError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: unknown,
  ) {
    super(typeof detail === 'string' ? detail : `${code} (HTTP ${status})`);
    this.name = 'KeyholdError';
  }
}

/** The error of a failed reply; replies without a JSON body get a code from their status. */
export async function errorFromResponse(response: Response): Promise<KeyholdError> {
  const body = (await response.json().catch(() => undefined)) as { code?: unknown; detail?: unknown; error?: unknown; error_description?: unknown } | undefined;
  // The /oidc/ endpoints answer OAuth-shaped errors ({error, error_description}, RFC 6749).
  const code = typeof body?.code === 'string' ? body.code : typeof body?.error === 'string' ? body.error : `http_${response.status}`;
  const detail = body?.detail ?? body?.error_description ?? response.statusText;
  return new KeyholdError(response.status, code, detail);
}
